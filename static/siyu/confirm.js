/* Asking before a destructive or money action, in the page's own dialog (the <dialog> in
   base.html, whose buttons the template translates):
   - data-confirm="question" on a form, on its submit button, or on a link or htmx button outside
     a form; data-confirm-detail adds a second line, data-confirm-ok names the button that goes
     ahead and data-confirm-danger colours it as destructive;
   - htmx's hx-confirm asks in the same dialog.
   Nothing is sent until the user says yes; Escape or Cancel leaves everything as it was. Where
   it matters without script (redeeming points) the server asks for its own confirmation step. */
(function () {
  "use strict";

  var confirmed = new WeakSet();

  function ask(options, proceed) {
    var dialog = document.getElementById("confirm-dialog");
    if (!dialog || typeof dialog.showModal !== "function") {
      if (window.confirm(options.message + (options.detail ? "\n\n" + options.detail : ""))) proceed();
      return;
    }
    dialog.querySelector("[data-confirm-message]").textContent = options.message;
    var detail = dialog.querySelector("[data-confirm-detail]");
    detail.textContent = options.detail || "";
    detail.hidden = !options.detail;
    var ok = dialog.querySelector("button[value=ok]");
    ok.textContent = options.ok || ok.dataset.label;
    ok.classList.toggle("danger", !!options.danger);
    dialog.returnValue = "";
    dialog.addEventListener("close", function onClose() {
      dialog.removeEventListener("close", onClose);
      if (dialog.returnValue === "ok") proceed();
    });
    dialog.showModal();
    dialog.querySelector("button[value=cancel]").focus();
  }

  function optionsOf(el, fallback) {
    var data = (el && el.dataset) || {};
    var base = (fallback && fallback.dataset) || {};
    return {
      message: data.confirm || base.confirm,
      detail: data.confirmDetail || base.confirmDetail,
      ok: data.confirmOk || base.confirmOk,
      danger: "confirmDanger" in data || "confirmDanger" in base,
    };
  }

  // Capture on window: runs before htmx's and any other handler of the form's submit.
  window.addEventListener("submit", function (event) {
    var form = event.target;
    var submitter = event.submitter;
    var options = optionsOf(submitter && submitter.dataset.confirm ? submitter : form, form);
    if (!options.message) return;
    if (confirmed.has(form)) {
      confirmed.delete(form);
      return;
    }
    event.preventDefault();
    event.stopImmediatePropagation();
    ask(options, function () {
      confirmed.add(form);
      if (form.requestSubmit) form.requestSubmit(submitter && submitter.form === form ? submitter : undefined);
      else form.submit();
    });
  }, true);

  window.addEventListener("click", function (event) {
    var el = event.target.closest && event.target.closest("a[data-confirm], button[data-confirm]");
    if (!el || (el.form && el.type === "submit")) return;  // submit buttons are asked on submit
    if (confirmed.has(el)) {
      confirmed.delete(el);
      return;
    }
    event.preventDefault();
    event.stopImmediatePropagation();
    ask(optionsOf(el), function () {
      confirmed.add(el);
      el.click();
    });
  }, true);

  document.addEventListener("htmx:confirm", function (event) {
    if (!event.detail.question) return;
    event.preventDefault();
    ask({ message: event.detail.question }, function () { event.detail.issueRequest(true); });
  });
})();
