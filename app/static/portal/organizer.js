/* Portico organizer: every answer is saved as it is given. Each question's form is posted by fetch
   (with its CSRF token and the answer's version) when a choice changes, or shortly after typing stops.
   The server answers with the new version and which questions are shown now (conditions); a 409
   means another window saved first: its answer replaces ours on the page, and we say so. Either way
   the progress bar and "still to answer" follow the server's count. A failed save is kept in
   localStorage and sent again when the connection is back or the page reloads. */
(function () {
  "use strict";
  var box = document.querySelector(".organizer-questions");
  if (!box || box.dataset.open !== "1") { return; }
  var msgs = box.dataset;
  var storeKey = "portico-organizer:" + window.location.pathname;

  function pending() {
    try { return JSON.parse(window.localStorage.getItem(storeKey) || "{}"); } catch (e) { return {}; }
  }
  function remember(action, fields) {
    var all = pending();
    if (fields) { all[action] = fields; } else { delete all[action]; }
    try { window.localStorage.setItem(storeKey, JSON.stringify(all)); } catch (e) { /* private mode: no copy */ }
  }

  function state(form, text, cls) {
    var el = form.querySelector(".save-state") || form.closest(".question").querySelector(".save-state");
    el.textContent = text;
    el.className = "save-state small " + (cls || "muted");
  }

  function setVersion(card, version) {
    card.querySelectorAll('input[name="version"]').forEach(function (input) { input.value = version; });
  }

  function show(ids) {
    document.querySelectorAll(".question[data-question]").forEach(function (card) {
      card.hidden = ids.indexOf(parseInt(card.dataset.question, 10)) < 0;
    });
  }

  /* The progress the server counted after the save: bar (value and aria-valuenow), its label (a polite
     live region), and the "still to answer" list of the last section. */
  function progress(figures) {
    if (!figures) { return; }
    var bar = document.getElementById("organizer-progress");
    if (bar) {
      bar.max = figures.total || 1;
      bar.value = figures.done;
      bar.setAttribute("aria-valuenow", String(figures.done));
    }
    var text = document.getElementById("organizer-progress-text");
    if (text && text.textContent !== figures.text) { text.textContent = figures.text; }
    var missing = document.getElementById("organizer-missing");
    if (missing) {
      var list = missing.querySelector("ul");
      list.textContent = "";
      (figures.missing || []).forEach(function (label) {
        var item = document.createElement("li");
        item.textContent = label;
        list.appendChild(item);
      });
      missing.hidden = !(figures.missing || []).length;
    }
  }

  function fill(form, answer) {
    var values = answer.value || "";
    var list = [];
    try { list = JSON.parse(values); } catch (e) { list = []; }
    form.querySelectorAll('[name="value"]').forEach(function (input) {
      if (input.type === "radio") { input.checked = input.value === values; }
      else if (input.type === "checkbox") { input.checked = Array.isArray(list) && list.indexOf(input.value) >= 0; }
      else { input.value = values; }
    });
    var na = form.querySelector('[name="not_applicable"]');
    if (na) { na.checked = !!answer.not_applicable; }
  }

  function fields(form) {
    var data = new URLSearchParams(new FormData(form));
    return data.toString();
  }

  function send(form, body) {
    var card = form.closest(".question");
    state(form, msgs.msgSaving);
    remember(form.action, body);
    return fetch(form.action, {method: "POST", credentials: "same-origin", body: new URLSearchParams(body),
                               headers: {"Accept": "application/json"}})
      .then(function (response) {
        return response.json().then(function (answer) { return {status: response.status, answer: answer}; });
      })
      .then(function (result) {
        var answer = result.answer;
        remember(form.action, null);
        if (result.status === 200 || result.status === 409) {
          setVersion(card, answer.version);
          show(answer.shown || []);
          progress(answer.progress);
        }
        if (result.status === 200) { state(form, msgs.msgSaved); }
        else if (result.status === 409) { fill(form, answer); state(form, msgs.msgStale, "stale"); }
        else { state(form, answer.error || msgs.msgFailed, "failed"); }
        return result;
      })
      .catch(function () { state(form, msgs.msgFailed, "failed"); });
  }

  function save(form) { return send(form, fields(form)); }

  document.querySelectorAll(".answer-form").forEach(function (form) {
    var timer = null;
    var button = form.querySelector(".save-button");
    if (button) { button.hidden = true; }
    form.addEventListener("change", function () { window.clearTimeout(timer); save(form); });
    form.addEventListener("input", function (e) {
      if (e.target.type === "text" || e.target.tagName === "TEXTAREA") {
        window.clearTimeout(timer);
        timer = window.setTimeout(function () { save(form); }, 800);
      }
    });
    form.addEventListener("submit", function (e) { e.preventDefault(); save(form); });
  });

  document.querySelectorAll(".same-form").forEach(function (same) {
    same.addEventListener("submit", function (e) {
      e.preventDefault();
      var card = same.closest(".question");
      var form = card.querySelector(".answer-form");
      send(same, fields(same)).then(function (result) {
        if (result && (result.status === 200 || result.status === 409)) { fill(form, result.answer); }
      });
    });
  });

  function retry() {
    var all = pending();
    Object.keys(all).forEach(function (action) {
      var form = document.querySelector('form[action="' + action.replace(/^https?:\/\/[^/]+/, "") + '"]');
      if (form) { send(form, all[action]); }
    });
  }
  window.addEventListener("online", retry);
  retry();
}());
