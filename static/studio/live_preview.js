// Live YAML preview of the workflow page: as the user types, the unsaved form is posted
// (debounced, with its CSRF token) to the preview endpoint, which builds the draft through the
// save path's forms and services and answers its YAML and problems. Nothing is saved.
(function () {
  "use strict";
  var DELAY_MS = 400;

  function escapeText(text) {
    var node = document.createElement("div");
    node.textContent = text == null ? "" : String(text);
    return node.innerHTML;
  }

  function renderProblems(box, problems) {
    box.hidden = false;
    if (!problems.length) {
      box.innerHTML = '<p class="studio-ok">The draft is valid: no errors, no warnings.</p>';
      return;
    }
    var rows = problems.map(function (p) {
      return '<tr class="studio-' + escapeText(p.severity) + '"><td>' + escapeText(p.severity) +
        "</td><td>" + escapeText(p.step || "—") + "</td><td><code>" + escapeText(p.path || "workflow") +
        "</code></td><td>" + escapeText(p.message) + "</td></tr>";
    });
    box.innerHTML = "<h2>Check before publishing</h2>" +
      '<table class="studio-table"><thead><tr><th>Severity</th><th>Step</th><th>Where</th>' +
      "<th>Problem</th></tr></thead><tbody>" + rows.join("") + "</tbody></table>";
  }

  function wire() {
    var panel = document.getElementById("studio-yaml-preview");
    var form = document.querySelector("form[id$='_form']");
    if (!panel || !form || !panel.dataset.url) { return; }
    var text = document.getElementById("studio-yaml-text");
    var state = document.getElementById("studio-preview-state");
    var box = document.getElementById("studio-problems");
    var timer = null;
    var sent = 0;

    function refresh() {
      var number = ++sent;
      state.textContent = "updating…";
      var token = form.querySelector("[name=csrfmiddlewaretoken]");
      fetch(panel.dataset.url, {
        method: "POST",
        body: new FormData(form),
        credentials: "same-origin",
        headers: { "X-CSRFToken": token ? token.value : "", "X-Requested-With": "XMLHttpRequest" },
      }).then(function (response) {
        if (!response.ok) { throw new Error("the preview answered HTTP " + response.status); }
        return response.json();
      }).then(function (data) {
        if (number !== sent) { return; } // a newer keystroke's answer will follow
        text.textContent = data.yaml;
        if (box) { renderProblems(box, data.problems); }
        state.textContent = "unsaved changes: " + data.errors + " error(s), " +
          data.warnings + " warning(s)";
        panel.dataset.previews = String(number);
      }).catch(function (error) {
        if (number === sent) { state.textContent = "preview unavailable (" + error.message + ")"; }
      });
    }

    function later() {
      window.clearTimeout(timer);
      timer = window.setTimeout(refresh, DELAY_MS);
    }
    form.addEventListener("input", later);
    form.addEventListener("change", later);
    // Rows added or removed with the inline's buttons change the draft too.
    document.addEventListener("formset:added", later);
    document.addEventListener("formset:removed", later);
  }

  document.addEventListener("DOMContentLoaded", wire);
})();
