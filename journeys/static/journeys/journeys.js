// The journey editor: each step row shows the fields of its kind, the trigger the fields of its own
// (without JavaScript every field shows, and the server keeps only the kind's).
(function () {
  function showStep(row) {
    var kind = row.querySelector(".step-kind").value;
    row.querySelectorAll(".step-fields").forEach(function (box) {
      box.hidden = box.getAttribute("data-kind") !== kind;
    });
  }
  function showTrigger(form) {
    var select = form.querySelector("select[name=trigger]");
    if (!select) return;
    form.querySelectorAll("[data-trigger]").forEach(function (label) {
      label.hidden = label.getAttribute("data-trigger").split(" ").indexOf(select.value) < 0;
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector(".journey-form");
    if (!form) return;
    form.querySelectorAll(".journey-step").forEach(function (row) {
      showStep(row);
      row.querySelector(".step-kind").addEventListener("change", function () { showStep(row); });
    });
    showTrigger(form);
    form.querySelector("select[name=trigger]").addEventListener("change", function () { showTrigger(form); });
  });
})();
