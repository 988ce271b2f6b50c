/* The door's check-in screen without a connection: scans wait in localStorage and are synced in
   batches (POST data-sync-url) once the phone is back online; each scan keeps its own time, so the
   server decides first-scan-wins and answers conflicts, which are shown here. Camera scanning uses
   the browser's BarcodeDetector where there is one; the typed code works everywhere. No library. */
(function () {
  "use strict";
  var root = document.getElementById("door");
  if (!root) return;
  var KEY = "siyu.door." + root.dataset.event;
  var BATCH = 200;
  var status = document.getElementById("door-sync-status");
  var log = document.getElementById("door-sync-log");
  var t = JSON.parse(document.getElementById("door-words").textContent);
  var flushing = false;

  function queue() {
    try { return JSON.parse(localStorage.getItem(KEY) || "[]"); } catch (e) { return []; }
  }
  function save(items) { localStorage.setItem(KEY, JSON.stringify(items)); show(); }
  function show() {
    var n = queue().length;
    status.textContent = n ? t.waiting.replace("%(n)s", n) : (navigator.onLine ? t.online : t.offline);
    status.dataset.waiting = String(n);
    root.classList.toggle("door-offline", !navigator.onLine);
  }
  function note(text, kind) {
    var li = document.createElement("li");
    li.className = "m-row " + (kind || "");
    li.textContent = text;
    log.insertBefore(li, log.firstChild);
    while (log.children.length > 50) log.removeChild(log.lastChild);
  }
  function csrf() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }
  function scanOf(form) {
    var data = new FormData(form);
    var scan = { source: data.get("source") || "typed", at: form.dataset.at || new Date().toISOString(),
                 device: root.dataset.device || "" };
    var code = (data.get("code") || "").trim().toUpperCase();
    if (code) scan.code = code; else if (data.get("member")) scan.member = parseInt(data.get("member"), 10);
    return scan;
  }
  function enqueue(form) {
    var scan = scanOf(form);
    if (!scan.code && !scan.member) return;
    var items = queue();
    items.push(scan);
    save(items);
    note(t.saved.replace("%(what)s", scan.code || ("#" + scan.member)), "notice");
    var input = form.querySelector("input[name=code]");
    if (input) { input.value = ""; input.focus(); }
    var row = scan.member && document.querySelector("[data-testid=door-" + scan.member + "]");
    if (row) row.classList.add("door-queued");
  }

  // Every scan remembers when it was made, before it is sent or queued.
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (!root.contains(form) || !form.matches("form[hx-post]")) return;
    form.dataset.at = new Date().toISOString();
    if (!navigator.onLine) {
      ev.preventDefault();
      ev.stopPropagation();
      enqueue(form);
    }
  }, true);
  // Online by the browser's word but the request failed: the scan waits too.
  document.body.addEventListener("htmx:sendError", function (ev) {
    var form = ev.detail && ev.detail.elt && ev.detail.elt.closest("form");
    if (form && root.contains(form)) enqueue(form);
  });

  function flush() {
    var items = queue();
    if (flushing || !items.length || !navigator.onLine) { show(); return; }
    flushing = true;
    var batch = items.slice(0, BATCH);
    fetch(root.dataset.syncUrl, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify({ scans: batch })
    }).then(function (response) {
      return response.json().then(function (body) { return { ok: response.ok, status: response.status, body: body }; });
    }).then(function (answer) {
      if (!answer.ok) {
        // A batch the server cannot take (the event cancelled, a clock far off) is shown, and kept.
        note((answer.body.error && answer.body.error.message) || t.failed, "error");
        if (answer.status >= 500) return;
        save(queue().slice(batch.length));
        keepRefused(batch, answer.body);
        return;
      }
      save(queue().slice(batch.length));
      answer.body.results.forEach(function (r) {
        var kind = r.outcome === "checked_in" || r.outcome === "already" ? "ok" :
          (r.outcome === "refused" ? "error" : "conflict");
        note(((r.name ? r.name + " " : "") + r.message), kind);
      });
      var count = document.querySelector("[data-testid=door-count]");
      if (count && answer.body.checked_in !== undefined) count.dataset.checkedIn = answer.body.checked_in;
      note(t.synced.replace("%(n)s", batch.length), "ok");
    }).catch(function () { /* still offline: try again later */ }).finally(function () {
      flushing = false;
      show();
      if (queue().length && navigator.onLine) setTimeout(flush, 500);
    });
  }
  function keepRefused(batch, body) {
    // Never lost: a refused batch stays on this phone, beside the queue, for the organiser to see.
    var kept = JSON.parse(localStorage.getItem(KEY + ".refused") || "[]");
    localStorage.setItem(KEY + ".refused", JSON.stringify(kept.concat(batch.map(function (s) {
      return { scan: s, error: body && body.error ? body.error.message : "" };
    }))));
  }

  window.addEventListener("online", flush);
  window.addEventListener("offline", show);
  setInterval(flush, 15000);
  show();
  flush();

  // Camera scanning where the browser reads barcodes itself.
  var camButton = document.getElementById("door-camera");
  var video = document.getElementById("door-video");
  if (!camButton || !video || !("BarcodeDetector" in window) || !navigator.mediaDevices) return;
  camButton.hidden = false;
  var stream = null, last = "", lastAt = 0, detector = null;
  function stop() {
    if (stream) stream.getTracks().forEach(function (track) { track.stop(); });
    stream = null; video.hidden = true; camButton.textContent = t.camera;
  }
  function tick() {
    if (!stream) return;
    detector.detect(video).then(function (codes) {
      var value = codes.length ? String(codes[0].rawValue || "").trim() : "";
      var now = Date.now();
      if (value && (value !== last || now - lastAt > 3000)) {
        last = value; lastAt = now;
        var form = document.querySelector("#checkin-panel form[data-testid=code-form]");
        if (form) {
          form.querySelector("input[name=code]").value = value;
          form.querySelector("input[name=source]").value = "scan";
          form.requestSubmit();
        }
      }
    }).catch(function () {}).finally(function () { if (stream) setTimeout(tick, 250); });
  }
  camButton.addEventListener("click", function () {
    if (stream) { stop(); return; }
    detector = detector || new window.BarcodeDetector({ formats: ["qr_code", "code_128", "code_39"] });
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false }).then(function (s) {
      stream = s; video.srcObject = s; video.hidden = false; video.play(); camButton.textContent = t.stop; tick();
    }).catch(function () { note(t.noCamera, "error"); });
  });
})();
