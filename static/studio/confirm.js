// Buttons with data-confirm ask before they act (the list's Disable toggle pauses a live
// workflow). Without JavaScript the button still submits as before: the question is a
// courtesy, the server-side action stays the same POST.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-confirm]") : null;
    if (button && !window.confirm(button.getAttribute("data-confirm"))) {
      event.preventDefault();
      event.stopPropagation();
    }
  }, true);
})();
