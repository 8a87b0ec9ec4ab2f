/* Organizer template editor: drag a question to a new place in its section; the new order is posted
   (with the page's CSRF token) and the page reloads on the version the server answers with. The
   up/down buttons do the same from the keyboard without this script. */
(function () {
  "use strict";
  var dragged = null;

  function post(list) {
    var token = document.querySelector('input[name="csrf_token"]').value;
    var ids = Array.prototype.map.call(list.querySelectorAll("li[data-id]"), function (li) { return li.dataset.id; });
    var body = new URLSearchParams({csrf_token: token, op: "reorder", section_id: list.dataset.section, order: ids.join(",")});
    fetch(list.dataset.url, {method: "POST", credentials: "same-origin", body: body, headers: {"Accept": "application/json"}})
      .then(function (r) { return r.json(); })
      .then(function (answer) {
        if (answer.error) { window.alert(answer.error); }
        window.location = answer.url || window.location.href;
      });
  }

  document.querySelectorAll(".organizer-questions").forEach(function (list) {
    list.addEventListener("dragstart", function (e) { dragged = e.target.closest("li"); e.dataTransfer.effectAllowed = "move"; });
    list.addEventListener("dragover", function (e) {
      var over = e.target.closest("li");
      if (!dragged || !over || over === dragged || over.parentNode !== list) { return; }
      e.preventDefault();
      var box = over.getBoundingClientRect();
      list.insertBefore(dragged, e.clientY > box.top + box.height / 2 ? over.nextSibling : over);
    });
    list.addEventListener("drop", function (e) { e.preventDefault(); if (dragged) { post(list); } dragged = null; });
  });
}());
