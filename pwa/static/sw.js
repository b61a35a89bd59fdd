/* Service worker of the worker phone app (工地实名制考勤).
 *
 * Served from /sw.js (root scope, "Service-Worker-Allowed: /") by backend/clockin/pages.py, which
 * fills in the app-shell list and a content hash of it: any change of a shell file is a new worker
 * with a new cache.
 *
 * - App shell (CSS, JS, htmx, icons, manifest): cached at install, served cache-first.
 * - Pages (/m/…) and the clock-in API's GETs: network-first; a good answer refreshes the cache, the cache answers
 *   when the network fails (so the app opens and the clock page works offline).
 * - Anything but GET (clock-in uploads, challenges, make-up requests, login) is never touched and
 *   never cached: the page's IndexedDB outbox (outbox.js) owns offline uploads.
 * - htmx fragment requests are never cached (they share their URL with the full page).
 * - The pre-check (/api/clockin/precheck) is network-only: it judges this moment's position.
 * - Logging out (m.js) deletes the page cache (it holds the worker's name and punches); the next login caches
 *   the pages again (m.js warmPages), so offline clock-in keeps working for whoever is logged in.
 */
"use strict";

const VERSION = "__SHELL_VERSION__";
const SHELL = __SHELL_URLS__;
const PAGES = __PAGE_URLS__;
const SHELL_CACHE = "smz-shell-" + VERSION;
const PAGE_CACHE = "smz-pages-v1";
const FALLBACK_PAGE = "/m/";

self.addEventListener("install", function (event) {
  event.waitUntil((async function () {
    const shell = await caches.open(SHELL_CACHE);
    await shell.addAll(SHELL.map(function (u) { return new Request(u, { cache: "reload" }); }));
    // The worker's pages, if logged in (a redirect to /login is not a page worth keeping).
    const pages = await caches.open(PAGE_CACHE);
    await Promise.all(PAGES.map(async function (url) {
      try {
        const res = await fetch(url, { credentials: "same-origin", redirect: "manual", cache: "no-store" });
        if (res.ok && res.type === "basic") await pages.put(url, res);
      } catch (e) { /* offline at install: the pages are cached on first visit */ }
    }));
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", function (event) {
  event.waitUntil((async function () {
    const keys = await caches.keys();
    await Promise.all(keys.filter(function (k) {
      return k.indexOf("smz-shell-") === 0 && k !== SHELL_CACHE;
    }).map(function (k) { return caches.delete(k); }));
    await self.clients.claim();
  })());
});

function offlinePage() {
  const html = '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">' +
    '<meta name="viewport" content="width=device-width, initial-scale=1"><title>网络不可用</title>' +
    '<link rel="stylesheet" href="/static/css/app.css"><link rel="stylesheet" href="/static/css/m.css"></head>' +
    '<body class="m"><main class="m-main"><section class="card"><h1>网络不可用</h1>' +
    '<p>请联网后再打开此页面。已保存在手机上的打卡会在联网后自动上传。</p>' +
    '<p><a class="button primary" href="/m/clock">去打卡</a></p></section></main></body></html>';
  return new Response(html, { status: 503, headers: { "Content-Type": "text/html; charset=utf-8" } });
}

async function cacheFirst(request) {
  const hit = await caches.match(request, { ignoreSearch: true });
  if (hit) return hit;
  const res = await fetch(request);
  if (res.ok && res.type === "basic") {
    const copy = res.clone();
    caches.open(SHELL_CACHE).then(function (c) { return c.put(request, copy); });
  }
  return res;
}

async function networkFirst(request, isPage) {
  try {
    const res = await fetch(request);
    // Keep only real answers for this URL: not redirects (to /login), not errors.
    if (res.ok && res.type === "basic" && !res.redirected) {
      const copy = res.clone();
      caches.open(PAGE_CACHE).then(function (c) { return c.put(request, copy); });
    }
    return res;
  } catch (err) {
    const hit = await caches.match(request, { cacheName: PAGE_CACHE });
    if (hit) return hit;
    if (isPage) {
      const home = await caches.match(FALLBACK_PAGE, { cacheName: PAGE_CACHE });
      return home || offlinePage();
    }
    return new Response(JSON.stringify({ code: "offline", message: "网络不可用", message_en: "Offline" }), {
      status: 503, headers: { "Content-Type": "application/json" },
    });
  }
}

self.addEventListener("fetch", function (event) {
  const request = event.request;
  if (request.method !== "GET") return;  // uploads are the page's business, never cached
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.headers.get("HX-Request")) {
    // htmx fragments: network only, a small message when offline
    event.respondWith(fetch(request).catch(function () {
      return new Response('<div class="error" role="alert">网络不可用</div>', {
        status: 503, headers: { "Content-Type": "text/html; charset=utf-8" },
      });
    }));
    return;
  }
  if (url.pathname.indexOf("/static/") === 0 || url.pathname === "/manifest.webmanifest") {
    event.respondWith(cacheFirst(request));
    return;
  }
  if (url.pathname === "/api/clockin/precheck") {
    // A judgement of this moment's position: never answered from a cache (a stale "inside" would mislead).
    event.respondWith(fetch(request).catch(function () {
      return new Response(JSON.stringify({ code: "offline", message: "网络不可用", message_en: "Offline" }), {
        status: 503, headers: { "Content-Type": "application/json" },
      });
    }));
    return;
  }
  if (url.pathname.indexOf("/api/clockin/") === 0) {
    event.respondWith(networkFirst(request, false));
    return;
  }
  if (url.pathname.indexOf("/m/") === 0) {
    event.respondWith(networkFirst(request, request.mode === "navigate"));
    return;
  }
  if (request.mode === "navigate") {
    // Other pages of the site (login, desktop pages) are never cached; offline they get the app.
    event.respondWith(fetch(request).catch(async function () {
      return (await caches.match(FALLBACK_PAGE, { cacheName: PAGE_CACHE })) || offlinePage();
    }));
  }
});
