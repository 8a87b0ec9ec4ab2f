/* Drawing pad of the signing page: finger, pen or mouse draws on a canvas; the drawing travels as a
   PNG data URL in the hidden "drawing" field. Typing the name is the keyboard alternative. */
(function () {
  "use strict";
  var pad = document.getElementById("signature-pad");
  var area = document.getElementById("draw-area");
  var out = document.getElementById("drawing");
  if (!pad || !area || !out) { return; }
  var ctx = pad.getContext("2d");
  var drawing = false, drawn = false, last = null;
  ctx.lineWidth = 3; ctx.lineCap = "round"; ctx.lineJoin = "round"; ctx.strokeStyle = "#0b1f3a";

  function radios() { return document.querySelectorAll("input[name='style']"); }
  function style() {
    var chosen = document.querySelector("input[name='style']:checked");
    return chosen ? chosen.value : "typed";
  }
  function sync() {
    area.hidden = style() !== "drawn";
    out.value = style() === "drawn" && drawn ? pad.toDataURL("image/png") : "";
  }
  function point(event) {
    var box = pad.getBoundingClientRect();
    return { x: (event.clientX - box.left) * pad.width / box.width, y: (event.clientY - box.top) * pad.height / box.height };
  }
  pad.addEventListener("pointerdown", function (event) {
    drawing = true; last = point(event); pad.setPointerCapture(event.pointerId); event.preventDefault();
    ctx.beginPath(); ctx.arc(last.x, last.y, 1.2, 0, 2 * Math.PI); ctx.fill(); drawn = true;
  });
  pad.addEventListener("pointermove", function (event) {
    if (!drawing) { return; }
    var p = point(event);
    ctx.beginPath(); ctx.moveTo(last.x, last.y); ctx.lineTo(p.x, p.y); ctx.stroke();
    last = p; drawn = true; event.preventDefault();
  });
  function stop() { if (drawing) { drawing = false; sync(); } }
  pad.addEventListener("pointerup", stop);
  pad.addEventListener("pointercancel", stop);
  pad.addEventListener("pointerleave", stop);
  document.getElementById("pad-clear").addEventListener("click", function () {
    ctx.clearRect(0, 0, pad.width, pad.height); drawn = false; sync();
  });
  Array.prototype.forEach.call(radios(), function (radio) { radio.addEventListener("change", sync); });
  pad.closest("form").addEventListener("submit", sync);
  sync();
})();
