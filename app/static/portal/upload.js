/* Portico portal uploads: any <form data-upload-url> with a file input named "files".
   Without this script the form posts normally (several files at once). With it, files can be
   dropped on the [data-dropzone], each file is checked (size, extension) before sending, then sent
   alone by XHR with its own progress bar; the server's JSON {"errors": [...]} is shown per file.
   Messages come translated in data-msg-* attributes ("{name}" is replaced by the file name). */
(function () {
  "use strict";

  function fill(template, name) {
    return (template || "").split("{name}").join(name);
  }

  function extensionOf(name) {
    var dot = name.lastIndexOf(".");
    return dot > 0 ? name.slice(dot + 1).toLowerCase() : "";
  }

  function sizeLabel(bytes) {
    if (bytes < 1024) { return bytes + " B"; }
    if (bytes < 1024 * 1024) { return (bytes / 1024).toFixed(1) + " kB"; }
    return (bytes / (1024 * 1024)).toFixed(1) + " MB";
  }

  function errorsOf(xhr) {
    try {
      var body = JSON.parse(xhr.responseText);
      return body && body.errors && body.errors.length ? body.errors : [];
    } catch (e) {
      return [];
    }
  }

  function init(form) {
    var data = form.dataset;
    var input = form.querySelector('input[type="file"][name="files"]');
    var list = form.querySelector(".uploads");
    var status = form.querySelector(".upload-status");
    var zone = form.querySelector("[data-dropzone]");
    var button = form.querySelector('button[type="submit"]');
    var token = form.querySelector('input[name="csrf_token"]');
    var max = parseInt(data.maxBytes, 10);
    var allowed = (data.allowed || "").split(",");
    var queue = [];
    var rejected = 0;
    if (!input || !list) { return; }
    input.required = false;  // dropped files may not be in the input; the script checks itself

    function setState(entry, text, cls) {
      entry.state.textContent = text;
      entry.row.className = cls || "";
      entry.bar.hidden = cls === "failed";
    }

    function problem(file) {
      if (file.size > max) { return fill(data.msgTooLarge, file.name); }
      if (allowed.indexOf(extensionOf(file.name)) < 0) { return fill(data.msgType, file.name); }
      if (file.size === 0) { return fill(data.msgEmpty, file.name); }
      return null;
    }

    function addRow(file) {
      var row = document.createElement("li");
      var name = document.createElement("span");
      var bar = document.createElement("progress");
      var state = document.createElement("span");
      name.textContent = file.name + " (" + sizeLabel(file.size) + ") ";
      bar.max = 100;
      bar.value = 0;
      bar.setAttribute("aria-label", file.name);
      state.className = "state";
      row.appendChild(name);
      row.appendChild(state);
      row.appendChild(bar);
      list.appendChild(row);
      return {file: file, row: row, bar: bar, state: state};
    }

    function choose(files) {
      queue = [];
      rejected = 0;
      list.textContent = "";
      if (status) { status.textContent = ""; }
      Array.prototype.forEach.call(files, function (file) {
        var entry = addRow(file);
        var why = problem(file);
        if (why) {
          rejected += 1;
          setState(entry, why, "failed");
        } else {
          setState(entry, data.msgWaiting);
          queue.push(entry);
        }
      });
    }

    function send(entry) {
      return new Promise(function (resolve) {
        var body = new FormData(form);
        var xhr = new XMLHttpRequest();
        body.delete("files");
        body.append("files", entry.file, entry.file.name);
        xhr.open("POST", data.uploadUrl);
        xhr.setRequestHeader("Accept", "application/json");
        if (token) { xhr.setRequestHeader("X-CSRFToken", token.value); }
        xhr.upload.onprogress = function (event) {
          if (event.lengthComputable) { entry.bar.value = Math.round(event.loaded / event.total * 100); }
        };
        xhr.onload = function () {
          var errors = errorsOf(xhr);
          if (xhr.status >= 200 && xhr.status < 300 && !errors.length) {
            entry.bar.value = 100;
            setState(entry, data.msgSent, "ok");
            resolve(true);
          } else {
            setState(entry, errors.length ? errors.join(" ") : fill(data.msgFailed, entry.file.name) +
                     " (" + xhr.status + ")", "failed");
            resolve(false);
          }
        };
        xhr.onerror = function () {
          setState(entry, fill(data.msgNetwork, entry.file.name), "failed");
          resolve(false);
        };
        setState(entry, data.msgSending);
        xhr.send(body);
      });
    }

    function sendAll(entries) {
      var results = [];
      return entries.reduce(function (chain, entry) {
        return chain.then(function () {
          return send(entry).then(function (ok) { results.push(ok); });
        });
      }, Promise.resolve()).then(function () { return results; });
    }

    input.addEventListener("change", function () { choose(input.files); });

    if (zone) {
      var hint = zone.querySelector("[data-drop-hint]");
      if (hint) { hint.hidden = false; }
      ["dragenter", "dragover"].forEach(function (name) {
        zone.addEventListener(name, function (event) {
          event.preventDefault();
          zone.classList.add("over");
        });
      });
      ["dragleave", "drop"].forEach(function (name) {
        zone.addEventListener(name, function () { zone.classList.remove("over"); });
      });
      zone.addEventListener("drop", function (event) {
        event.preventDefault();
        if (event.dataTransfer && event.dataTransfer.files.length) { choose(event.dataTransfer.files); }
      });
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (!queue.length) {
        if (status) { status.textContent = data.msgNone; }
        input.focus();
        return;
      }
      var entries = queue;
      var refused = rejected;
      queue = [];
      rejected = 0;
      if (button) { button.disabled = true; }
      sendAll(entries).then(function (results) {
        var sent = results.filter(Boolean).length;
        var allSent = sent === results.length && !refused;
        if (button) { button.disabled = false; }
        if (allSent && data.doneUrl) {  // show the page again with the new files on it
          window.location.assign(data.doneUrl);
          if (data.doneUrl.indexOf("#") >= 0) { window.location.reload(); }
          return;
        }
        input.value = "";
        if (allSent) {
          form.reset();
          if (status) { status.textContent = data.msgAllSent; }
        } else if (sent && status) {
          status.textContent = data.msgSomeFailed;
        }
      });
    });
  }

  document.querySelectorAll("form[data-upload-url]").forEach(init);
}());
