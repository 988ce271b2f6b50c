/* The member centre's screens, without inline script:
   - select[multiple][data-chips] becomes a searchable Tom Select with chips (the audience builder's
     tags, stores, staff, tiers, months, scores; the bulk actions' tag pickers);
   - on the member list, [data-select-all] checks every row's box, and the bulk bar says how many
     rows are chosen and whether the action covers the selection or every matching member. */
(function () {
  "use strict";

  function each(root, selector, fn) {
    if (root.matches && root.matches(selector)) fn(root);
    if (root.querySelectorAll) root.querySelectorAll(selector).forEach(fn);
  }

  function chips(root) {
    if (typeof window.TomSelect !== "function") return;
    each(root, "select[multiple][data-chips]", function (select) {
      if (select.tomselect) return;
      var ts = new window.TomSelect(select, {
        plugins: ["remove_button"],
        hidePlaceholder: true,
        maxOptions: null,
        closeAfterSelect: false,
        onItemAdd: function () { this.setTextboxValue(""); this.refreshOptions(false); }
      });
      // The select changed under the chips (a script, an autofill): show what it now holds, so the
      // chips never send back a value the select no longer has.
      select.addEventListener("change", function () {
        var chosen = Array.prototype.filter.call(select.options, function (o) { return o.selected; })
          .map(function (o) { return o.value; });
        if (chosen.join("\u0000") !== [].concat(ts.getValue()).join("\u0000")) ts.sync();
      });
    });
  }

  function bulkBar(root) {
    each(root, "[data-bulk]", function (bar) {
      var table = document.querySelector(bar.dataset.bulk);
      var count = bar.querySelector("[data-bulk-count]");
      if (!table || !count) return;
      var boxes = table.querySelectorAll("input[name=member]");
      var chosen = Array.prototype.filter.call(boxes, function (b) { return b.checked; }).length;
      count.textContent = chosen;
      bar.classList.toggle("has-selection", chosen > 0);
    });
  }

  document.addEventListener("change", function (event) {
    var field = event.target;
    if (!field.matches) return;
    if (field.matches("[data-select-all]")) {
      var table = field.closest("table");
      if (table) table.querySelectorAll("input[name=member]").forEach(function (b) { b.checked = field.checked; });
    }
    if (field.matches("[data-select-all], input[name=member]")) bulkBar(document);
  });

  document.addEventListener("htmx:load", function (event) { chips(event.detail.elt); bulkBar(document); });
  function ready() { chips(document); bulkBar(document); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
})();
