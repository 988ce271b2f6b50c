/* A submit button marked data-requires-choice="name" stays disabled until one of its form's
   choices of that name (radio buttons, a select) is picked, so the button never promises what the
   form cannot do yet. The server checks again: without script the button is enabled and a form
   sent without a choice is answered with what is missing. */
(function () {
  "use strict";

  function chosen(form, name) {
    var field = form.elements[name];
    if (!field) return false;
    if (field.value) return true;  // a select, a single radio, or a RadioNodeList's checked value
    return !!form.querySelector("[name='" + name + "']:checked:not(:disabled)");
  }

  function update(root) {
    var buttons = root.querySelectorAll ? root.querySelectorAll("[data-requires-choice]") : [];
    buttons.forEach(function (button) {
      if (button.form) button.disabled = !chosen(button.form, button.dataset.requiresChoice);
    });
  }

  document.addEventListener("change", function (event) {
    if (event.target.form) update(event.target.form);
  });
  document.addEventListener("htmx:load", function (event) { update(event.detail.elt); });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { update(document); });
  } else {
    update(document);
  }
})();
