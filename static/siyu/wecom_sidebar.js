// The WeCom chat sidebar: inside WeCom, register the page with the JS-SDK (agentConfig signed by
// the server at data-config-url), ask for the current customer's external_userid and open their
// card. Outside WeCom (no SDK, demo mode, or WeCom refusing) the page's form names the customer.
(function () {
  "use strict";

  function start() {
    var box = document.querySelector("[data-wecom-sidebar]");
    if (!box || box.dataset.demo === "true" || !window.ww) return;
    var status = box.querySelector("[data-sidebar-status]");
    var configUrl = box.dataset.configUrl + "?url=" + encodeURIComponent(location.href.split("#")[0]);
    fetch(configUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (config) {
        if (config.mode !== "wecom") throw new Error(config.mode || "unavailable");
        window.ww.register({
          corpId: config.corpid,
          agentId: config.agentid,
          jsApiList: config.jsApiList,
          getAgentConfigSignature: function () {
            return { timestamp: config.timestamp, nonceStr: config.nonceStr, signature: config.signature };
          }
        });
        return window.ww.getCurExternalContact();
      })
      .then(function (res) {
        var id = res && (res.userId || res.userid);
        if (!id) throw new Error("no customer");
        location.replace(box.dataset.cardUrl + "?external_userid=" + encodeURIComponent(id));
      })
      .catch(function () {
        if (status) status.textContent = status.dataset.fallback || status.textContent;
        box.classList.add("sidebar-manual");
      });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
