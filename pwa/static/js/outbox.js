/* Offline outbox of phone clock-ins, in IndexedDB.
 *
 * Every capture (frames as JPEG Blobs, location, captured_at, the idempotency key made BEFORE the
 * capture) is stored here BEFORE its upload is tried, and removed only when the server has answered
 * with a verdict (2xx) or with a 4xx that will not change on a retry.  A crash, a closed tab or a
 * network failure therefore loses nothing, and a retry carries the same key, which the server stores
 * once (it answers a repeated key with the first verdict).
 *
 * Records belong to the account that captured them ("owner" = person id): after a change of account
 * on a shared phone, another worker's captures stay in the outbox until that worker logs in again.
 *
 * Uploads run one at a time under a lock (Web Locks API where available, also across tabs), in
 * capture order, on app start, when the browser comes back online and right after a capture.
 *
 * window.SMZOutbox = { add, get, list, count, remove, submit, flush, results, onChange }.
 */
(function () {
  "use strict";

  const DB_NAME = "smz-pwa";
  const DB_VERSION = 1;
  const OUTBOX = "outbox";
  const RESULTS = "results";
  const KEEP_RESULTS = 20;
  const UPLOAD_URL = "/api/clockin/";
  // 4xx answers worth retrying: not logged in (any more), timeouts, rate limits.
  const RETRY_4XX = new Set([401, 408, 425, 429]);

  let dbPromise = null;

  function openDb() {
    if (dbPromise) return dbPromise;
    dbPromise = new Promise(function (resolve, reject) {
      const req = indexedDB.open(DB_NAME, DB_VERSION);
      req.onupgradeneeded = function () {
        const db = req.result;
        if (!db.objectStoreNames.contains(OUTBOX)) {
          db.createObjectStore(OUTBOX, { keyPath: "key" }).createIndex("owner", "owner");
        }
        if (!db.objectStoreNames.contains(RESULTS)) {
          db.createObjectStore(RESULTS, { keyPath: "key" }).createIndex("owner", "owner");
        }
      };
      req.onsuccess = function () { resolve(req.result); };
      req.onerror = function () { dbPromise = null; reject(req.error); };
      req.onblocked = function () { reject(new Error("IndexedDB blocked")); };
    });
    return dbPromise;
  }

  function run(store, mode, fn) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        const t = db.transaction(store, mode);
        let out;
        const r = fn(t.objectStore(store));
        if (r) r.onsuccess = function () { out = r.result; };
        t.oncomplete = function () { resolve(out); };
        t.onerror = function () { reject(t.error); };
        t.onabort = function () { reject(t.error || new Error("transaction aborted")); };
      });
    });
  }

  function byCreated(a, b) { return (a.createdMs || 0) - (b.createdMs || 0); }

  const listeners = [];
  function changed(detail) {
    listeners.forEach(function (fn) { try { fn(detail || {}); } catch (e) { console.error(e); } });
  }

  function add(record) {
    if (!record || !record.key || !record.owner) return Promise.reject(new Error("record needs key and owner"));
    record.createdMs = record.createdMs || Date.now();
    record.attempts = record.attempts || 0;
    return run(OUTBOX, "readwrite", function (s) { return s.put(record); }).then(function () {
      changed({ added: record.key });
      return record.key;
    });
  }

  function get(key) { return run(OUTBOX, "readonly", function (s) { return s.get(key); }); }

  function list(owner) {
    return run(OUTBOX, "readonly", function (s) { return s.getAll(); }).then(function (all) {
      return (all || []).filter(function (r) { return owner == null || String(r.owner) === String(owner); }).sort(byCreated);
    });
  }

  function count(owner) { return list(owner).then(function (rows) { return rows.length; }); }

  function remove(key) { return run(OUTBOX, "readwrite", function (s) { return s.delete(key); }); }

  function saveResult(result) {
    return run(RESULTS, "readwrite", function (s) { return s.put(result); }).then(function () {
      return run(RESULTS, "readonly", function (s) { return s.getAll(); });
    }).then(function (all) {
      const old = (all || []).sort(function (a, b) { return b.doneMs - a.doneMs; }).slice(KEEP_RESULTS);
      if (!old.length) return;
      return run(RESULTS, "readwrite", function (s) { old.forEach(function (r) { s.delete(r.key); }); });
    });
  }

  function results(owner) {
    return run(RESULTS, "readonly", function (s) { return s.getAll(); }).then(function (all) {
      return (all || []).filter(function (r) { return owner == null || String(r.owner) === String(owner); })
        .sort(function (a, b) { return b.doneMs - a.doneMs; });
    });
  }

  /* ISO 8601 with the phone's own UTC offset, e.g. 2026-11-25T08:30:00.123+08:00 */
  function isoLocal(date) {
    const pad = function (n, w) { return String(Math.abs(n)).padStart(w || 2, "0"); };
    const off = -date.getTimezoneOffset();
    return date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate()) + "T" +
      pad(date.getHours()) + ":" + pad(date.getMinutes()) + ":" + pad(date.getSeconds()) + "." +
      pad(date.getMilliseconds(), 3) + (off >= 0 ? "+" : "-") + pad(Math.floor(Math.abs(off) / 60)) + ":" +
      pad(Math.abs(off) % 60);
  }

  function formData(r) {
    const fd = new FormData();
    fd.append("idempotency_key", r.key);
    fd.append("captured_at", r.capturedAt);
    // The phone's clock now: lets the server tell a capture that waited in the outbox from a wrong clock.
    fd.append("sent_at", isoLocal(new Date()));
    fd.append("lon", String(r.lon));
    fd.append("lat", String(r.lat));
    fd.append("accuracy_m", String(r.accuracy));
    fd.append("coord_system", r.coordSystem || "wgs84");
    if (r.nonce) fd.append("nonce", r.nonce);
    else fd.append("offline_actions", (r.offlineActions || []).join(","));
    if (r.projectId) fd.append("project_id", String(r.projectId));
    (r.frames || []).forEach(function (blob, i) { fd.append("frames", blob, "frame-" + i + ".jpg"); });
    return fd;
  }

  /* One upload.  → {kind: "done", verdict} | {kind: "final", status, error} | {kind: "retry", status?, error} */
  function send(r) {
    return fetch(UPLOAD_URL, {
      method: "POST", body: formData(r), credentials: "same-origin", headers: { Accept: "application/json" },
    }).then(function (res) {
      return res.text().then(function (text) {
        let body = null;
        try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
        if (res.ok && body && body.verdict) return { kind: "done", status: res.status, verdict: body };
        const message = (body && body.message) || ("服务器返回 " + res.status);
        if (res.ok) return { kind: "retry", status: res.status, error: "服务器应答无法识别" };
        if (res.status === 401) return { kind: "retry", status: 401, error: "登录已过期，请重新登录后自动上传" };
        if (res.status >= 400 && res.status < 500 && !RETRY_4XX.has(res.status)) {
          return { kind: "final", status: res.status, error: message, code: body && body.code };
        }
        return { kind: "retry", status: res.status, error: message };
      });
    }, function () {
      return { kind: "retry", error: "网络不可用" };
    });
  }

  function withLock(fn) {
    if (navigator.locks && navigator.locks.request) {
      return navigator.locks.request("smz-outbox", fn);
    }
    // Fallback for browsers without Web Locks: one chain per page.
    const next = (withLock.chain || Promise.resolve()).then(fn, fn);
    withLock.chain = next.catch(function () {});
    return next;
  }

  /* Upload one stored record and settle it.  Must run under the lock. */
  function settle(r) {
    return send(r).then(function (out) {
      if (out.kind === "retry") {
        r.attempts = (r.attempts || 0) + 1;
        r.lastError = out.error;
        r.lastTryMs = Date.now();
        return run(OUTBOX, "readwrite", function (s) { return s.put(r); }).then(function () { return out; });
      }
      const result = {
        key: r.key, owner: r.owner, capturedAt: r.capturedAt, doneMs: Date.now(), offline: !r.nonce,
        deferred: (r.attempts || 0) > 0,  // it waited in the outbox (the first upload failed)
        kind: out.kind, status: out.status, verdict: out.verdict || null, error: out.error || null,
      };
      // The verdict is safe on the server; only now may the capture go.
      return saveResult(result).then(function () { return remove(r.key); }).then(function () { return out; });
    });
  }

  /* Upload the record with this key now (right after the capture).  If it is no longer in the
     outbox (a flush got there first), answer with the stored result. */
  function submit(key) {
    return withLock(function () {
      return get(key).then(function (r) {
        if (!r) {
          return run(RESULTS, "readonly", function (s) { return s.get(key); }).then(function (res) {
            return res ? { kind: res.kind, status: res.status, verdict: res.verdict, error: res.error }
              : { kind: "final", error: "记录不存在" };
          });
        }
        return settle(r);
      });
    }).then(function (out) { changed({ submitted: key, outcome: out }); return out; });
  }

  /* Upload every waiting record of this owner, oldest first; stop at the first one that must be
     retried later (the network is down again, or the session expired). */
  function flush(owner) {
    if (navigator.onLine === false) return Promise.resolve({ sent: 0, left: null, skipped: "offline" });
    return withLock(function () {
      return list(owner).then(function (rows) {
        let sent = 0;
        const outcomes = [];
        function next(i) {
          if (i >= rows.length) return { sent: sent, left: 0, outcomes: outcomes };
          return settle(rows[i]).then(function (out) {
            outcomes.push({ key: rows[i].key, outcome: out });
            if (out.kind === "retry") return { sent: sent, left: rows.length - i, outcomes: outcomes, error: out.error };
            sent += 1;
            return next(i + 1);
          });
        }
        return next(0);
      });
    }).then(function (summary) { changed({ flushed: summary }); return summary; });
  }

  window.SMZOutbox = {
    add: add, get: get, list: list, count: count, remove: remove, submit: submit, flush: flush,
    results: results, send: send, isoLocal: isoLocal,
    onChange: function (fn) { listeners.push(fn); },
  };
})();
