/* Every page of the phone app: service worker registration, the outbox status line, uploading the
 * outbox on app start and whenever the browser comes back online, clearing cached pages on logout. */
(function () {
  "use strict";

  const owner = document.body.dataset.person || null;

  if ("serviceWorker" in navigator) {
    window.addEventListener("load", function () {
      navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function (e) {
        console.warn("service worker registration failed", e);
      });
    });
  }

  function verdictText(v) {
    if (!v) return "";
    return v.message || (v.accepted ? "打卡成功" : "打卡失败");
  }

  function renderStatus() {
    const box = document.getElementById("outbox-status");
    if (!box || !window.SMZOutbox || !owner) return Promise.resolve();
    return Promise.all([SMZOutbox.list(owner), SMZOutbox.results(owner)]).then(function (all) {
      const pending = all[0];
      const done = all[1].filter(function (r) { return r.deferred; }).slice(0, 3);
      const parts = [];
      if (pending.length) {
        const last = pending[pending.length - 1];
        parts.push('<div class="outbox pending" data-count="' + pending.length + '">📶 有 <b>' + pending.length +
          '</b> 条打卡保存在手机上，联网后自动上传' + (last.lastError ? "（" + escapeHtml(last.lastError) + "）" : "") +
          ' <button type="button" class="link" data-action="flush">立即上传</button></div>');
      }
      done.forEach(function (r) {
        const cls = r.kind === "done" ? (r.verdict && r.verdict.accepted ? "ok" : "bad") : "bad";
        const when = new Date(r.capturedAt).toLocaleString("zh-CN", { hour12: false });
        parts.push('<div class="outbox ' + cls + '" data-key="' + escapeHtml(r.key) + '">已上传 ' + escapeHtml(when) +
          " 的打卡：" + escapeHtml(r.kind === "done" ? verdictText(r.verdict) : "未被接受：" + (r.error || "")) + "</div>");
      });
      box.innerHTML = parts.join("");
      box.hidden = parts.length === 0;
    }).catch(function (e) { console.warn("outbox status", e); });
  }

  function escapeHtml(s) {
    return String(s == null ? "" : s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function flush() {
    if (!window.SMZOutbox || !owner) return Promise.resolve();
    return SMZOutbox.count(owner).then(function (n) { return n ? SMZOutbox.flush(owner) : null; }).catch(function (e) { console.warn("outbox flush", e); }).then(renderStatus);
  }

  window.SMZApp = { owner: owner, flush: flush, renderStatus: renderStatus, escapeHtml: escapeHtml };

  document.addEventListener("click", function (ev) {
    const t = ev.target.closest("[data-action=flush]");
    if (t) { ev.preventDefault(); flush(); }
  });

  // On logout: forget cached pages and API answers (they belong to this account).  The outbox stays:
  // its records carry their owner and wait for that worker's next login.
  document.addEventListener("submit", function (ev) {
    if (ev.target.matches("form[action='/logout']") && window.caches) {
      ev.preventDefault();
      caches.keys().then(function (keys) {
        return Promise.all(keys.filter(function (k) { return k.indexOf("smz-pages") === 0; }).map(function (k) {
          return caches.delete(k);
        }));
      }).finally(function () { ev.target.submit(); });
    }
  });

  if (window.SMZOutbox) {
    SMZOutbox.onChange(renderStatus);
    window.addEventListener("online", flush);
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible" && navigator.onLine) flush();
    });
    flush();  // app start
  }
})();
