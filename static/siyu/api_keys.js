/* The API-key form: "All read" / "All write" / "Clear" shortcuts, preset roles that tick their
   scopes, Write ticking Read, and the writes of brand-wide settings disabled while the key is
   limited to one store (the server refuses them as well). "All read" leaves out personal-data
   reads (data-sensitive rows), which are only ever ticked one by one. */
(function () {
  "use strict";

  function boxes(form, action) {
    return Array.prototype.filter.call(form.querySelectorAll("input[name='scopes']"), function (box) {
      return !action || box.value.slice(-action.length - 1) === ":" + action;
    });
  }

  function row(box) {
    return box.closest("tr");
  }

  function storeBound(form) {
    var store = form.elements.store;
    return !!(store && store.value);
  }

  function applyBinding(form) {
    var bound = storeBound(form);
    boxes(form, "write").forEach(function (box) {
      var brand = row(box) && row(box).hasAttribute("data-brand-setting");
      box.disabled = bound && brand;
      if (box.disabled) box.checked = false;
    });
  }

  function tick(form, action) {
    if (action === "none") {
      boxes(form).forEach(function (box) { box.checked = false; });
      return;
    }
    boxes(form, action).forEach(function (box) {
      if (box.disabled) return;
      if (action === "read" && row(box) && row(box).hasAttribute("data-sensitive")) return;
      box.checked = true;
      if (action === "write") readOf(form, box).checked = true;
    });
  }

  function readOf(form, writeBox) {
    var name = writeBox.value.replace(/:write$/, ":read");
    return form.querySelector("input[name='scopes'][value='" + name + "']") || {};
  }

  function applyPreset(form, select) {
    var option = select.options[select.selectedIndex];
    var wanted = (option && option.dataset.scopes ? option.dataset.scopes.split(" ") : []);
    if (!wanted.length) return;
    boxes(form).forEach(function (box) {
      box.checked = !box.disabled && wanted.indexOf(box.value) !== -1;
    });
  }

  function init(form) {
    applyBinding(form);
    form.addEventListener("click", function (event) {
      var button = event.target.closest("[data-scope-shortcut]");
      if (!button) return;
      event.preventDefault();
      tick(form, button.dataset.scopeShortcut);
    });
    form.addEventListener("change", function (event) {
      var field = event.target;
      if (field.name === "store") applyBinding(form);
      if (field.matches("[data-scope-preset]")) applyPreset(form, field);
      if (field.name === "scopes" && field.checked && /:write$/.test(field.value)) readOf(form, field).checked = true;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-api-key-form]").forEach(init);
  });
})();
