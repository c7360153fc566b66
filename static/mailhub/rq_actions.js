// django-rq's list pages were written for the admin's old jQuery actions script:
// - they call django.jQuery(...).actions(), a plugin Django's admin no longer has (its
//   actions.js sets up the checkboxes on its own): the call is given a plugin doing nothing;
// - they lack the "n of m selected" counter that actions.js now reads on every change: one is
//   added to their actions bar when the page has checkboxes.
// Loaded after those pages' scripts, before the document is ready, when both are needed.
(function ($) {
  "use strict";
  if ($ && !$.fn.actions) {
    $.fn.actions = function () { return this; };
  }
  function addCounter() {
    var bar = document.querySelector("#changelist-form div.actions");
    var boxes = document.querySelectorAll("tr input.action-select");
    if (!bar || !boxes.length || document.querySelector("span.action-counter")) { return; }
    var counter = document.createElement("span");
    counter.className = "action-counter";
    counter.setAttribute("data-actions-icnt", String(boxes.length));
    bar.appendChild(counter);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", addCounter);
  } else {
    addCounter();
  }
})(window.django && window.django.jQuery);
