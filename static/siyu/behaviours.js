/* Declarative behaviours for the dashboard, so templates need no inline script or style
   (the Content-Security-Policy allows scripts from this site only and no style attributes):
   - (data-confirm, asking before a form is sent, is confirm.js's, in the page's own dialog);
   - data-autosubmit on a field submits its form when the field changes;
   - data-width (a percentage) and data-colour size and colour bars and badges. */
(function () {
  "use strict";

  function each(root, selector, fn) {
    if (root.matches && root.matches(selector)) fn(root);
    if (root.querySelectorAll) root.querySelectorAll(selector).forEach(fn);
  }

  function paint(root) {
    each(root, "[data-width]", function (el) {
      var w = parseFloat(el.dataset.width);
      if (isFinite(w)) el.style.width = Math.max(0, Math.min(100, w)) + "%";
    });
    each(root, "[data-colour]", function (el) {
      el.style.background = el.dataset.colour;
    });
  }

  document.addEventListener("change", function (event) {
    var field = event.target;
    if (field.matches && field.matches("[data-autosubmit]") && field.form) {
      if (field.form.requestSubmit) field.form.requestSubmit();
      else field.form.submit();
    }
  });

  // Read-only fields worth copying (a referral link) select their whole value when focused.
  document.addEventListener("focusin", function (event) {
    var field = event.target;
    if (field.matches && field.matches("input[data-select-on-focus]")) field.select();
  });

  document.addEventListener("htmx:load", function (event) { paint(event.detail.elt); });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { paint(document); });
  } else {
    paint(document);
  }
})();
