/* Every page of the phone app: service worker registration, the network badge with the outbox count, the outbox
 * status line, uploading the outbox on app start and whenever the browser comes back online, refreshing the punch
 * lists when an upload settles, logging out (asked first, refused offline), and keeping the pages cached for
 * offline clock-in. */
(function () {
  "use strict";

  const owner = document.body.dataset.person || null;
  const zone = document.body.dataset.tz || "Asia/Shanghai";
  // The worker's pages kept for offline use (backend/clockin/pages.py PAGES; the service worker's page cache).
  const PAGE_CACHE = "smz-pages-v1";
  const PAGES = ["/m/", "/m/clock", "/m/history", "/m/makeup"];

  if ("serviceWorker" in navigator) {
    window.addEventListener("load", function () {
      navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function (e) {
        console.warn("service worker registration failed", e);
      });
    });
  }

  /* A time as the server's lists show it (vocabulary.local_time, seconds): "2026-11-25 08:30:05" in the
     project's zone — not the phone's zone or the browser's locale format. */
  function localTime(value, seconds) {
    const d = value instanceof Date ? value : new Date(value);
    if (isNaN(d.getTime())) return "";
    const parts = {};
    new Intl.DateTimeFormat("en-GB", {
      timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
      second: "2-digit", hourCycle: "h23",
    }).formatToParts(d).forEach(function (p) { parts[p.type] = p.value; });
    return parts.year + "-" + parts.month + "-" + parts.day + " " + parts.hour + ":" + parts.minute +
      (seconds === false ? "" : ":" + parts.second);
  }

  function verdictText(v) {
    if (!v) return "";
    return v.message || (v.accepted ? "打卡成功" : "打卡失败");
  }

  function escapeHtml(s) {
    return String(s == null ? "" : s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  // ------------------------------------------------------------------ network badge (every page)

  let pendingCount = 0;

  function renderNet() {
    const el = document.getElementById("net-state");
    if (!el) return;
    const online = navigator.onLine !== false;
    el.dataset.online = online ? "1" : "0";
    el.dataset.pending = String(pendingCount);
    el.querySelector(".net-text").textContent = online ? "在线" : "离线";
    const count = el.querySelector(".net-count");
    count.textContent = pendingCount ? "待上传 " + pendingCount : "";
    count.hidden = !pendingCount;
    el.title = (online ? "已联网" : "未联网：打卡会保存在手机上，联网后自动上传") +
      (pendingCount ? "；有 " + pendingCount + " 条打卡待上传" : "");
  }

  function renderStatus() {
    const box = document.getElementById("outbox-status");
    if (!window.SMZOutbox || !owner) { renderNet(); return Promise.resolve(); }
    return Promise.all([SMZOutbox.list(owner), SMZOutbox.results(owner)]).then(function (all) {
      const pending = all[0];
      pendingCount = pending.length;
      renderNet();
      if (!box) return;
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
        parts.push('<div class="outbox ' + cls + '" data-key="' + escapeHtml(r.key) + '">已上传 <span class="when">' +
          escapeHtml(localTime(r.capturedAt)) + "</span> 的打卡：" +
          escapeHtml(r.kind === "done" ? verdictText(r.verdict) : "未被接受：" + (r.error || "")) + "</div>");
      });
      box.innerHTML = parts.join("");
      box.hidden = parts.length === 0;
    }).catch(function (e) { console.warn("outbox status", e); });
  }

  function flush() {
    if (!window.SMZOutbox || !owner) return Promise.resolve();
    return SMZOutbox.count(owner).then(function (n) { return n ? SMZOutbox.flush(owner) : null; }).catch(function (e) { console.warn("outbox flush", e); }).then(renderStatus);
  }

  // ------------------------------------------------ the punch lists follow the outbox (issue 19 item 10)

  function settled(detail) {
    if (!detail) return false;
    if (detail.flushed) return (detail.flushed.sent || 0) > 0;
    if (detail.submitted) return detail.outcome && detail.outcome.kind !== "retry";
    return false;
  }

  function refreshLists() {
    const list = document.getElementById("history-list");
    if (!list || !window.htmx) return;
    const url = document.body.dataset.page === "home" ? "/m/history?limit=3" : "/m/history";
    htmx.ajax("GET", url, { target: "#history-list", swap: "outerHTML" }).catch(function () {});
  }

  // ------------------------------------------------------------- logout (issue 19 item 2)

  function logoutMessage(text) {
    const el = document.getElementById("logout-message");
    if (!el) return;
    el.textContent = text;
    el.hidden = !text;
  }

  const OFFLINE_LOGOUT = "当前没有网络，不能退出登录：退出后要联网才能重新登录，这段时间将无法离线打卡。请联网后再退出。";

  function askLogout() {
    const dialog = document.getElementById("logout-dialog");
    logoutMessage("");
    if (navigator.onLine === false) { logoutMessage(OFFLINE_LOGOUT); return; }
    const count = window.SMZOutbox && owner ? SMZOutbox.count(owner) : Promise.resolve(0);
    count.catch(function () { return 0; }).then(function (n) {
      document.getElementById("logout-detail").textContent = (n
        ? "手机上还有 " + n + " 条打卡等待上传，会先尝试上传；未上传的会保留在这部手机上，您下次登录后自动上传。"
        : "退出后需要联网才能重新登录。") + "离线打卡所需的页面会保留，但不含您的个人信息。";
      if (dialog && dialog.showModal) dialog.showModal();
      else if (window.confirm("确定退出登录？")) doLogout();
    });
  }

  function clearPages() {
    // The cached pages carry this worker's name, projects and punches: another account must not see them.  The
    // next login caches them afresh (warmPages), so offline clock-in keeps working.
    if (!window.caches) return Promise.resolve();
    return caches.keys().then(function (keys) {
      return Promise.all(keys.filter(function (k) { return k.indexOf("smz-pages") === 0; }).map(function (k) {
        return caches.delete(k);
      }));
    }).catch(function () {});
  }

  function doLogout() {
    const dialog = document.getElementById("logout-dialog");
    const close = function () { if (dialog && dialog.open) dialog.close(); };
    if (navigator.onLine === false) { close(); logoutMessage(OFFLINE_LOGOUT); return Promise.resolve(false); }
    return flush().then(function () {
      return fetch("/api/auth/logout", { method: "POST", credentials: "same-origin", headers: { Accept: "application/json" } });
    }).then(function (res) {
      if (!res.ok && res.status !== 401) throw new Error("退出失败（" + res.status + "），请稍后重试");
      return clearPages().then(function () { window.location.replace("/login"); return true; });
    }, function () {
      throw new Error(OFFLINE_LOGOUT);
    }).catch(function (e) {
      close();
      logoutMessage(e.message);
      return false;
    });
  }

  // ------------------------------------------------ pages cached for offline clock-in (this account's)

  function warmPages() {
    if (!owner || !window.caches || navigator.onLine === false) return Promise.resolve();
    const mark = 'data-person="' + owner + '"';
    return caches.open(PAGE_CACHE).then(function (cache) {
      return Promise.all(PAGES.map(function (url) {
        return cache.match(url).then(function (hit) {
          return hit ? hit.clone().text() : "";
        }).then(function (text) {
          if (text.indexOf(mark) >= 0) return;  // already this worker's page
          return fetch(url, { credentials: "same-origin", cache: "no-store" }).then(function (res) {
            if (res.ok && !res.redirected && res.type === "basic") return cache.put(url, res);
          });
        }).catch(function () {});
      }));
    }).catch(function () {});
  }

  window.SMZApp = {
    owner: owner, flush: flush, renderStatus: renderStatus, escapeHtml: escapeHtml, localTime: localTime,
    logout: doLogout, warmPages: warmPages,
  };

  document.addEventListener("click", function (ev) {
    const t = ev.target.closest("[data-action=flush]");
    if (t) { ev.preventDefault(); flush(); return; }
    if (ev.target.closest("#logout")) { ev.preventDefault(); askLogout(); return; }
    if (ev.target.closest("#logout-cancel")) { document.getElementById("logout-dialog").close(); return; }
    if (ev.target.closest("#logout-confirm")) { ev.preventDefault(); doLogout(); }
  });

  window.addEventListener("online", renderNet);
  window.addEventListener("offline", renderNet);
  renderNet();

  if (window.SMZOutbox) {
    SMZOutbox.onChange(function (detail) {
      renderStatus();
      if (settled(detail)) refreshLists();
    });
    window.addEventListener("online", flush);
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible" && navigator.onLine) flush();
    });
    flush();  // app start
  }
  if (document.readyState === "complete") warmPages();
  else window.addEventListener("load", function () { setTimeout(warmPages, 500); });
})();
