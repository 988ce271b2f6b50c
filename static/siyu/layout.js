/* The dashboard's menu on a narrow screen: the button in the top bar opens and closes the
   sidebar (aria-expanded tells assistive technology). Without script the button is a link to
   #nav and the stylesheet opens the menu as the :target. And "Back" links of error pages. */
(function () {
  "use strict";

  function menuOf(toggle) {
    return document.getElementById(toggle.getAttribute("aria-controls"));
  }

  function setOpen(toggle, open) {
    var menu = menuOf(toggle);
    if (!menu) return;
    menu.classList.toggle("open", open);
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) {
      var first = menu.querySelector("a[aria-current], a");
      if (first) first.focus({ preventScroll: true });
    }
  }

  document.addEventListener("click", function (event) {
    var toggle = event.target.closest && event.target.closest("[data-nav-toggle]");
    if (!toggle) return;
    event.preventDefault();
    setOpen(toggle, toggle.getAttribute("aria-expanded") !== "true");
  });

  // A "Back" link (data-history-back) returns to the previous page of this site when there is
  // one; otherwise it is an ordinary link to its href.
  document.addEventListener("click", function (event) {
    var back = event.target.closest && event.target.closest("a[data-history-back]");
    if (!back || window.history.length < 2) return;
    var from = document.referrer;
    if (!from || from.indexOf(window.location.origin + "/") !== 0) return;
    event.preventDefault();
    window.history.back();
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    document.querySelectorAll("[data-nav-toggle][aria-expanded=true]").forEach(function (toggle) {
      setOpen(toggle, false);
      toggle.focus();
    });
  });
})();
