// Shows only the config fields of each step's (and the trigger's) chosen kind, and the kind's
// help text. The field lists come from the step catalog, embedded in the page as JSON.
(function () {
  "use strict";
  function kinds() {
    var node = document.getElementById("studio-kinds");
    return node ? JSON.parse(node.textContent) : null;
  }

  function fieldLine(input) {
    return input.closest(".field-line") || input.closest(".form-row") || input.parentElement;
  }

  function apply(select, table, prefixOf, descriptions) {
    var prefix = prefixOf(select);
    var wanted = table[select.value] || [];
    var all = {};
    Object.keys(table).forEach(function (kind) {
      table[kind].forEach(function (name) { all[name] = true; });
    });
    Object.keys(all).forEach(function (name) {
      var show = wanted.indexOf(name) !== -1;
      var selector = '[name="' + prefix + name + '"], [name^="' + prefix + name + '_"]';
      document.querySelectorAll(selector).forEach(function (input) {
        var line = fieldLine(input);
        if (line) { line.style.display = show ? "" : "none"; }
      });
    });
    if (descriptions) {
      var help = select.parentElement.querySelector(".studio-kind-help");
      if (!help) {
        help = document.createElement("p");
        help.className = "studio-kind-help";
        select.parentElement.appendChild(help);
      }
      help.textContent = descriptions[select.value] || "";
    }
  }

  function wire() {
    var data = kinds();
    if (!data) { return; }
    var stepPrefix = function (select) { return select.name.replace(/type$/, ""); };
    document.querySelectorAll('select[name$="-type"]').forEach(function (select) {
      if (select.name.indexOf("__prefix__") !== -1 || select.dataset.studioWired) { return; }
      select.dataset.studioWired = "1";
      var run = function () { apply(select, data.steps, stepPrefix, data.descriptions); };
      select.addEventListener("change", run);
      run();
    });
    var trigger = document.querySelector('select[name="trigger_type"]');
    if (trigger && !trigger.dataset.studioWired) {
      trigger.dataset.studioWired = "1";
      var runTrigger = function () { apply(trigger, data.triggers, function () { return ""; }); };
      trigger.addEventListener("change", runTrigger);
      runTrigger();
    }
  }

  // A step added with "Add another" comes with order 0 (the model default): give it the
  // next order after the steps already on the page, so it lands at the end.
  function nextOrder(event) {
    var row = event.target;
    var input = row && row.querySelector ? row.querySelector('input[name$="-order"]') : null;
    if (!input || (input.value && input.value !== "0")) { return; }
    var highest = 0;
    document.querySelectorAll('input[name$="-order"]').forEach(function (other) {
      if (other === input || other.name.indexOf("__prefix__") !== -1) { return; }
      var value = parseInt(other.value, 10);
      if (!isNaN(value) && value > highest) { highest = value; }
    });
    input.value = String(highest + 1);
  }

  document.addEventListener("DOMContentLoaded", wire);
  // Rows added with "Add another" are wired as they appear.
  document.addEventListener("formset:added", nextOrder);
  document.addEventListener("formset:added", wire);
  new MutationObserver(function () { wire(); }).observe(document.documentElement, { childList: true, subtree: true });
})();
