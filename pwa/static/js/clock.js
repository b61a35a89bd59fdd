/* Phone clock-in (打卡): location → liveness challenge → burst of frames from the live camera → upload.
 *
 * - Location: Geolocation with enableHighAccuracy, watched while the page is open; the accuracy is
 *   shown.  Browsers give WGS-84, sent as coord_system=wgs84.
 * - Challenge: POST /api/clockin/challenge.  When it cannot be fetched (no network, server down) the
 *   phone picks 2 distinct actions itself and sends them as offline_actions: the server marks such
 *   punches "offline_challenge" (lower trust), it does not accept them silently.
 * - Camera: getUserMedia only — there is no file picker anywhere.  The preview is mirrored on screen
 *   (it feels like a mirror); the frames are drawn UNMIRRORED to a 640×480 canvas (480×640 when the
 *   camera delivers portrait video) and encoded as JPEG 0.8, a burst over ~3.5 s while the prompt
 *   shows the actions in order with a countdown.
 * - The capture goes into the IndexedDB outbox (outbox.js) BEFORE the upload is tried; the
 *   idempotency key is made before the capture starts.
 *
 * window.SMZCamera = { open, grab, close } is shared with the make-up page (evidence photo).
 */
(function () {
  "use strict";

  const JPEG_QUALITY = 0.8;
  const PREP_MS = 2000;          // "get ready" countdown once the camera shows a picture
  const FRAME_INTERVAL_MS = 225; // 16 frames ≈ 3.4 s
  const DEFAULT_FRAMES = 16;
  const MIN_CHALLENGE_LEFT_MS = 8000;  // prep + burst + upload must fit in the challenge's lifetime
  const FIX_MAX_AGE_MS = 120000;

  const $ = function (id) { return document.getElementById(id); };
  const esc = function (s) { return window.SMZApp ? SMZApp.escapeHtml(s) : String(s); };
  const sleep = function (ms) { return new Promise(function (r) { setTimeout(r, ms); }); };

  // ------------------------------------------------------------------------------ utilities

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, function (x) { return x.toString(16).padStart(2, "0"); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  const isoLocal = function (date) { return window.SMZOutbox.isoLocal(date); };

  /* k distinct actions in random order (crypto randomness), for an offline challenge. */
  function pickActions(all, k) {
    const pool = all.slice();
    const out = [];
    while (out.length < k && pool.length) {
      const r = crypto.getRandomValues(new Uint32Array(1))[0] % pool.length;
      out.push(pool.splice(r, 1)[0]);
    }
    return out;
  }

  // ------------------------------------------------------------------------------- camera

  const Camera = {
    stream: null,
    video: null,

    open: function (video) {
      if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
        return Promise.reject(new Error("此浏览器不支持摄像头（需要 HTTPS）"));
      }
      Camera.video = video;
      return navigator.mediaDevices.getUserMedia({
        audio: false,
        video: { facingMode: "user", width: { ideal: 640 }, height: { ideal: 480 } },
      }).then(function (stream) {
        Camera.stream = stream;
        video.srcObject = stream;
        video.muted = true;
        video.setAttribute("playsinline", "");
        return video.play().catch(function () {});
      }).then(function () { return Camera.ready(video); }, function (e) {
        const name = e && e.name;
        if (name === "NotAllowedError" || name === "SecurityError") throw new Error("请允许本应用使用摄像头后重试");
        if (name === "NotFoundError" || name === "OverconstrainedError") throw new Error("未找到可用的前置摄像头");
        if (name === "NotReadableError") throw new Error("摄像头被其他应用占用，请关闭后重试");
        throw new Error("无法打开摄像头：" + (e && e.message ? e.message : e));
      });
    },

    ready: function (video) {
      return new Promise(function (resolve, reject) {
        const t0 = performance.now();
        (function check() {
          if (video.readyState >= 2 && video.videoWidth > 0) return resolve();
          if (performance.now() - t0 > 10000) return reject(new Error("摄像头没有画面"));
          setTimeout(check, 50);
        })();
      });
    },

    /* The current picture, unmirrored, 640×480 (or 480×640 for portrait video), as a JPEG Blob. */
    grab: function (canvas, quality) {
      const v = Camera.video;
      const portrait = v.videoHeight > v.videoWidth;
      const W = portrait ? 480 : 640;
      const H = portrait ? 640 : 480;
      canvas.width = W;
      canvas.height = H;
      const ctx = canvas.getContext("2d");
      // cover: crop the video to the canvas' aspect ratio around the centre
      const scale = Math.max(W / v.videoWidth, H / v.videoHeight);
      const sw = W / scale;
      const sh = H / scale;
      ctx.drawImage(v, (v.videoWidth - sw) / 2, (v.videoHeight - sh) / 2, sw, sh, 0, 0, W, H);
      return new Promise(function (resolve, reject) {
        canvas.toBlob(function (blob) {
          if (blob) resolve(blob); else reject(new Error("无法编码照片"));
        }, "image/jpeg", quality || JPEG_QUALITY);
      });
    },

    close: function () {
      if (Camera.stream) Camera.stream.getTracks().forEach(function (t) { t.stop(); });
      Camera.stream = null;
      if (Camera.video) Camera.video.srcObject = null;
    },
  };
  window.SMZCamera = Camera;

  /* Re-encode a frame that came out too big (a very detailed picture) at a lower quality. */
  function shrink(blob, maxBytes) {
    if (blob.size <= maxBytes || !window.createImageBitmap) return Promise.resolve(blob);
    return createImageBitmap(blob).then(function (bmp) {
      const c = document.createElement("canvas");
      c.width = bmp.width;
      c.height = bmp.height;
      c.getContext("2d").drawImage(bmp, 0, 0);
      return new Promise(function (resolve) { c.toBlob(function (b) { resolve(b || blob); }, "image/jpeg", 0.6); });
    });
  }

  // ---------------------------------------------------------------------------- clock page

  function ClockPage(root) {
    this.root = root;
    this.cfg = JSON.parse(root.dataset.config || "{}");
    this.owner = document.body.dataset.person;
    this.fix = null;
    this.challenge = null;
    this.busy = false;
    const pre = $("precheck");
    this.ready = !!pre && pre.dataset.ready === "1";
    this.checkedFix = null;
    this.checking = false;
    this.recheck = false;
    // The checks the server rendered with the page (face, roster, project, fence): the offline fallback.
    this.baseChecks = Array.prototype.map.call(document.querySelectorAll("#precheck-list li.check"), function (li) {
      const text = function (sel) { const el = li.querySelector(sel); return el ? el.textContent.trim() : ""; };
      return {
        code: li.dataset.code, status: li.dataset.status, label: text(".check-label"),
        status_label: text(".check-status").replace(/[（）]/g, ""), message: text(".check-msg"), advice: text(".check-advice"),
      };
    }).filter(function (c) { return c.code !== "location" && c.code !== "accuracy"; });
  }

  ClockPage.prototype.projectId = function () {
    const sel = $("project");
    return sel && sel.value ? Number(sel.value) : null;
  };

  ClockPage.prototype.setStep = function (name) {
    this.root.dataset.step = name;
  };

  // --- location

  ClockPage.prototype.locate = function () {
    const self = this;
    const status = $("loc-status");
    if (!navigator.geolocation) {
      status.textContent = "此浏览器不支持定位";
      status.className = "bad";
      return;
    }
    status.textContent = "正在定位…";
    if (this.watch != null) navigator.geolocation.clearWatch(this.watch);
    this.watch = navigator.geolocation.watchPosition(function (pos) {
      self.onFix(pos);
    }, function (err) {
      const text = {
        1: "无法定位：请在手机设置中允许本应用使用位置信息",
        2: "无法定位：请到室外开阔处，并打开手机的定位（GPS）",
        3: "定位超时，正在重试…",
      }[err.code] || ("无法定位：" + err.message);
      if (!self.fix) {
        status.textContent = text;
        status.className = "bad";
      }
    }, { enableHighAccuracy: true, maximumAge: 0, timeout: 20000 });
  };

  ClockPage.prototype.onFix = function (pos) {
    const c = pos.coords;
    // Keep the newer fix unless it is much worse than a recent one.
    if (this.fix && c.accuracy > this.fix.accuracy * 2 && Date.now() - this.fix.at < 15000) return;
    this.fix = { lat: c.latitude, lon: c.longitude, accuracy: c.accuracy, at: Date.now() };
    $("loc-coords").textContent = c.latitude.toFixed(6) + ", " + c.longitude.toFixed(6);
    this.maybePrecheck(false);
  };

  // --- pre-checks before the camera (issue 19 item 1)

  const STATUS_ICON = { ok: "✓", warn: "!", block: "✗", pending: "…" };
  const STATUS_LABEL = { ok: "通过", warn: "注意", block: "不能打卡", pending: "待检查" };

  function metres(a, b) {
    const rad = Math.PI / 180;
    const x = (b.lon - a.lon) * rad * Math.cos((a.lat + b.lat) / 2 * rad);
    const y = (b.lat - a.lat) * rad;
    return Math.sqrt(x * x + y * y) * 6371000;
  }

  /* Ask the server again only when the fix moved, its accuracy changed, or a while passed. */
  ClockPage.prototype.maybePrecheck = function (force) {
    const self = this;
    const f = this.fix;
    const last = this.checkedFix;
    if (!force && f && last && Date.now() - last.checkedAt < 15000 && metres(f, last) < 10 &&
        Math.abs(f.accuracy - last.accuracy) < Math.max(5, last.accuracy * 0.2)) {
      return;
    }
    if (this.checking) { this.recheck = true; return; }
    this.checking = true;
    const fix = f ? { lon: f.lon, lat: f.lat, accuracy: f.accuracy, at: f.at } : null;
    this.fetchPrecheck(fix).then(function (res) {
      if (fix) { fix.checkedAt = Date.now(); self.checkedFix = fix; }
      self.applyPrecheck(res, fix);
    }).finally(function () {
      self.checking = false;
      if (self.recheck) { self.recheck = false; self.maybePrecheck(true); }
    });
  };

  ClockPage.prototype.fetchPrecheck = function (fix) {
    const self = this;
    if (navigator.onLine === false) return Promise.resolve(this.localPrecheck(fix));
    const q = new URLSearchParams();
    if (this.projectId()) q.set("project_id", String(this.projectId()));
    if (fix) {
      q.set("lon", String(fix.lon));
      q.set("lat", String(fix.lat));
      q.set("accuracy", String(fix.accuracy));
    }
    return fetch("/api/clockin/precheck?" + q.toString(), {
      credentials: "same-origin", headers: { Accept: "application/json" },
    }).then(function (res) {
      return res.json().catch(function () { return null; }).then(function (data) {
        if (res.ok && data && data.checks) return data;
        if (res.status === 401) {
          const out = self.localPrecheck(fix);
          out.summary = "登录已过期，请重新登录";
          return out;
        }
        return self.localPrecheck(fix);
      });
    }, function () {
      return self.localPrecheck(fix);
    });
  };

  /* Offline (or the server cannot answer): the checks the page came with, the accuracy judged here, and the
     fence left to the server — the capture is kept in the outbox and judged when it uploads. */
  ClockPage.prototype.localPrecheck = function (fix) {
    const max = this.cfg.maxAccuracyM || 100;
    const checks = this.baseChecks.slice();
    if (!fix) {
      checks.push({ code: "location", label: "所在位置", status: "pending", message: "正在定位…", advice: "请打开手机定位，在室外稍候" });
      checks.push({ code: "accuracy", label: "定位精度", status: "pending", message: "等待定位结果", advice: "" });
    } else {
      checks.push({ code: "location", label: "所在位置", status: "warn",
        message: "离线：现在无法核对电子围栏，联网上传后由服务器判断", advice: "请确认自己在工地围栏内" });
      const acc = Math.round(fix.accuracy);
      checks.push(fix.accuracy > max
        ? { code: "accuracy", label: "定位精度", status: "block", message: "±" + acc + " 米，超过 " + max + " 米的限制",
          advice: "请到室外开阔处，稍候后点“重新定位”" }
        : { code: "accuracy", label: "定位精度", status: "ok", message: "±" + acc + " 米（要求不超过 " + max + " 米）", advice: "" });
    }
    checks.forEach(function (c) { c.status_label = STATUS_LABEL[c.status]; });
    const blocking = checks.filter(function (c) { return c.status === "block"; });
    return {
      offline: true, ready: blocking.length === 0, demo_enrol: false, checks: checks,
      summary: blocking.map(function (c) { return c.advice || c.message; }).join("；"),
    };
  };

  ClockPage.prototype.applyPrecheck = function (res, fix) {
    const list = $("precheck-list");
    if (list) {
      list.innerHTML = res.checks.map(function (c) {
        return '<li class="check s-' + esc(c.status) + '" data-code="' + esc(c.code) + '" data-status="' + esc(c.status) +
          '"><span class="check-icon" aria-hidden="true">' + (STATUS_ICON[c.status] || "") + '</span>' +
          '<span class="check-body"><b class="check-label">' + esc(c.label) + '</b> <span class="check-status">（' +
          esc(c.status_label || STATUS_LABEL[c.status] || "") + '）</span> <span class="check-msg">' + esc(c.message) + "</span>" +
          (c.advice ? '<span class="check-advice">' + esc(c.advice) + "</span>" : "") + "</span></li>";
      }).join("");
    }
    this.ready = !!res.ready;
    const pre = $("precheck");
    if (pre) {
      pre.dataset.ready = this.ready ? "1" : "0";
      pre.dataset.source = res.offline ? "local" : "server";
    }
    const demo = $("demo-enrol");
    if (demo && !res.offline) demo.hidden = !res.demo_enrol;
    // Demo mode: offer the site's own position when the phone's is not on the demo site.
    const demoLoc = $("demo-location");
    const where = res.checks.find(function (c) { return c.code === "location"; });
    if (demoLoc && !res.offline) {
      this.demoPoint = res.demo_point || null;
      demoLoc.hidden = !(this.demoPoint && !(this.fix && this.fix.demo) && where && where.status === "block");
    }
    $("start-why").textContent = this.ready ? "" : "不能打卡：" + (res.summary || "请先处理上面标“✗”的项目");
    if (fix) this.renderFix(fix, res.checks.find(function (c) { return c.code === "location"; }));
    this.updateStart();
  };

  ClockPage.prototype.renderFix = function (fix, loc) {
    const max = this.cfg.maxAccuracyM || 100;
    const acc = Math.round(fix.accuracy);
    const status = $("loc-status");
    const accEl = $("loc-accuracy");
    accEl.textContent = "±" + acc + " 米";
    accEl.dataset.accuracy = String(fix.accuracy);
    if (fix.accuracy > max) {
      status.textContent = "定位精度不足（要求不超过 " + max + " 米），请到开阔处稍候";
      status.className = "bad";
      accEl.className = "acc bad";
      return;
    }
    accEl.className = "acc " + (fix.accuracy <= 30 ? "good" : "fair");
    if (loc && loc.status === "block") {
      status.textContent = "已定位，但" + loc.message;
      status.className = "bad";
    } else if (loc && loc.status === "warn" && loc.code === "location" && loc.message.indexOf("离线") !== 0) {
      status.textContent = "已定位：" + loc.message;
      status.className = "fair";
    } else {
      status.textContent = "已定位";
      status.className = "good";
    }
  };

  ClockPage.prototype.updateStart = function () {
    $("start-clock").disabled = this.busy || !this.fix || !this.ready;
  };

  // --- challenge

  ClockPage.prototype.getChallenge = function () {
    const self = this;
    const body = JSON.stringify(this.projectId() ? { project_id: this.projectId() } : {});
    const localChallenge = function (why) {
      const actions = pickActions(self.cfg.actions, self.cfg.actionCount || 2);
      return {
        offline: true, why: why, nonce: null, actions: actions,
        labels: actions.map(function (a) { return self.cfg.labels[a] || a; }),
        maxFrames: self.cfg.maxFrames || DEFAULT_FRAMES, deadline: Infinity, projectId: self.projectId(),
      };
    };
    if (navigator.onLine === false) return Promise.resolve(localChallenge("offline"));
    return fetch("/api/clockin/challenge", {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        if (res.ok) {
          return {
            offline: false, nonce: data.nonce, actions: data.actions, labels: data.labels,
            maxFrames: Math.min(data.max_frames || DEFAULT_FRAMES, self.cfg.maxFrames || DEFAULT_FRAMES),
            deadline: performance.now() + (data.ttl_s || 30) * 1000, projectId: data.project_id,
          };
        }
        if (res.status >= 500) return localChallenge("server");
        if (res.status === 401) throw new Error("登录已过期，请重新登录");
        throw new Error(data.message || ("无法获取活体挑战（" + res.status + "）"));
      });
    }, function () {
      return localChallenge("network");
    });
  };

  ClockPage.prototype.showChallenge = function (ch) {
    const list = $("challenge-actions");
    list.innerHTML = ch.labels.map(function (label, i) {
      return '<li data-action="' + esc(ch.actions[i]) + '">' + esc(label) + "</li>";
    }).join("");
    list.dataset.actions = ch.actions.join(",");
    const mode = $("challenge-mode");
    if (ch.offline) {
      mode.textContent = "网络不可用：本次为离线打卡，动作由手机随机选定，联网后上传并标记为“离线打卡（可信度较低）”";
      mode.className = "warn";
    } else {
      mode.textContent = "";
      mode.className = "";
    }
    this.setStep("challenge");
    this.tickTtl();
  };

  ClockPage.prototype.tickTtl = function () {
    const self = this;
    const el = $("challenge-ttl");
    clearTimeout(this.ttlTimer);
    if (!this.challenge || this.challenge.offline || this.root.dataset.step !== "challenge") {
      el.textContent = "";
      return;
    }
    const left = Math.max(0, Math.round((this.challenge.deadline - performance.now()) / 1000));
    el.textContent = left > 0 ? "请在 " + left + " 秒内点击“开始”" : "挑战已过期，点击“开始”将重新获取";
    this.ttlTimer = setTimeout(function () { self.tickTtl(); }, 1000);
  };

  ClockPage.prototype.onStartClock = function () {
    const self = this;
    if (this.busy) return;
    if (!this.fix) { this.message("bad", "尚未定位成功，请稍候"); return; }
    if (!this.ready) { this.message("bad", $("start-why").textContent || "打卡前检查未通过"); return; }
    this.busy = true;
    $("start-clock").disabled = true;
    this.message("", "正在获取活体挑战…");
    this.getChallenge().then(function (ch) {
      self.challenge = ch;
      self.message("", "");
      self.showChallenge(ch);
    }).catch(function (e) {
      self.message("bad", e.message);
      self.setStep("locate");
    }).finally(function () {
      self.busy = false;
      self.updateStart();
    });
  };

  // --- capture

  ClockPage.prototype.onStartCapture = function () {
    const self = this;
    if (this.busy || !this.challenge) return;
    const ch = this.challenge;
    if (!ch.offline && ch.deadline - performance.now() < MIN_CHALLENGE_LEFT_MS) {
      // too little time left: fetch a fresh challenge (the old one is simply never used)
      this.onStartClock();
      return;
    }
    this.busy = true;
    const key = uuid();  // the idempotency key exists before the first frame
    this.setStep("capture");
    this.message("", "");
    const video = $("preview");
    const prompt = $("prompt");
    prompt.textContent = "正在打开摄像头…";
    Camera.open(video).then(function () {
      return self.countdown(prompt);
    }).then(function () {
      return self.burst(ch, prompt);
    }).then(function (shot) {
      Camera.close();
      const fix = self.fix;
      const record = {
        key: key, owner: self.owner, projectId: ch.projectId || self.projectId(),
        capturedAt: shot.capturedAt, lon: fix.lon, lat: fix.lat, accuracy: fix.accuracy, coordSystem: "wgs84",
        fixAgeMs: Date.now() - fix.at, nonce: ch.nonce, offlineActions: ch.offline ? ch.actions : null,
        frames: shot.frames, createdMs: Date.now(),
      };
      self.challenge = null;
      self.setStep("upload");
      prompt.textContent = "";
      self.message("", "正在上传…");
      // Saved FIRST: from here on nothing is lost, whatever happens to the network or the phone.
      return SMZOutbox.add(record).then(function () { return SMZOutbox.submit(key); }).then(function (out) {
        self.showOutcome(key, out, record);
      });
    }).catch(function (e) {
      Camera.close();
      self.setStep("locate");
      self.message("bad", e.message || String(e));
    }).finally(function () {
      self.busy = false;
    });
  };

  ClockPage.prototype.countdown = function (prompt) {
    const steps = Math.round(PREP_MS / 1000);
    let chain = Promise.resolve();
    for (let i = steps; i > 0; i--) {
      chain = chain.then(function () {
        prompt.innerHTML = '<span class="big">' + i + "</span>请正对镜头，准备";
        return sleep(1000);
      });
    }
    return chain;
  };

  ClockPage.prototype.burst = function (ch, prompt) {
    const canvas = $("grab");
    const n = Math.max(3, Math.min(ch.maxFrames || DEFAULT_FRAMES, DEFAULT_FRAMES));
    const total = (n - 1) * FRAME_INTERVAL_MS;
    const slot = total / ch.actions.length;
    const maxBytes = this.cfg.maxFrameBytes || 400 * 1024;
    const blobs = [];
    let capturedAt = null;
    const t0 = performance.now();
    const bar = $("burst-progress");
    const showPrompt = function (elapsed) {
      const i = Math.min(ch.actions.length - 1, Math.floor(elapsed / slot));
      const left = Math.max(0, Math.ceil((slot * (i + 1) - elapsed) / 1000));
      const hint = ch.actions[i] === "blink" ? "（慢一点）" : "";
      prompt.innerHTML = '<span class="step">第 ' + (i + 1) + "/" + ch.actions.length + ' 步</span><span class="big" data-action="' +
        esc(ch.actions[i]) + '">' + esc(ch.labels[i]) + hint + '</span><span class="left">' + left + " 秒</span>";
      Array.prototype.forEach.call(document.querySelectorAll("#challenge-actions li"), function (li, k) {
        li.className = k < i ? "done" : (k === i ? "now" : "");
      });
    };
    return new Promise(function (resolve, reject) {
      let k = 0;
      const tick = function () {
        const elapsed = performance.now() - t0;
        showPrompt(elapsed);
        if (k === 0) capturedAt = isoLocal(new Date());
        blobs.push(Camera.grab(canvas).then(function (b) { return shrink(b, maxBytes); }));
        k += 1;
        if (bar) bar.value = k / n;
        if (k >= n) {
          Promise.all(blobs).then(function (frames) {
            resolve({ frames: frames, capturedAt: capturedAt });
          }, reject);
          return;
        }
        // schedule against the start time, so the burst does not drift
        setTimeout(tick, Math.max(0, t0 + k * FRAME_INTERVAL_MS - performance.now()));
      };
      tick();
    });
  };

  // --- result

  ClockPage.prototype.message = function (kind, text) {
    const el = $("clock-message");
    el.className = kind ? "msg " + kind : "msg";
    el.textContent = text;
    el.hidden = !text;
  };

  ClockPage.prototype.showOutcome = function (key, out, record) {
    const box = $("result");
    const detail = $("result-detail");
    box.dataset.key = key;
    box.dataset.kind = out.kind;
    detail.innerHTML = "";
    $("result-text").hidden = false;
    this.message("", "");
    if (out.kind === "done") {
      const v = out.verdict;
      box.dataset.verdict = v.verdict;
      box.className = "result " + (v.verdict === "rejected" ? "bad" : (v.verdict === "flagged" ? "warn" : "good"));
      $("result-title").textContent = v.verdict === "rejected" ? "打卡失败" : (v.verdict === "flagged" ? "打卡成功（待复核）" : "打卡成功");
      $("result-text").textContent = v.message || (v.labels || []).join("；");
      if (v.punch_id && window.htmx) {
        // The server renders the reasons in plain Chinese with their numbers (distance, accuracy …).
        htmx.ajax("GET", "/m/punches/" + v.punch_id, { target: "#result-detail", swap: "innerHTML" }).then(function () {
          if ($("result-detail").querySelector(".punch-detail")) $("result-text").hidden = true;
        }).catch(function () {});
      }
    } else if (out.kind === "final") {
      box.dataset.verdict = "error";
      box.className = "result bad";
      $("result-title").textContent = "打卡未被接受";
      $("result-text").textContent = out.error || "";
    } else {
      box.dataset.verdict = "pending";
      box.className = "result warn";
      $("result-title").textContent = "已保存在手机上";
      $("result-text").textContent = (out.error === "网络不可用" ? "网络不可用：" : (out.error ? out.error + "：" : "")) +
        "本次打卡（" + (window.SMZApp ? SMZApp.localTime(record.capturedAt) : record.capturedAt) +
        "）已保存，联网后会自动上传，请勿重复打卡。";
      this.pendingKey = key;
    }
    this.setStep("result");
  };

  /* A capture that waited in the outbox got its verdict (the network came back). */
  ClockPage.prototype.onOutboxChange = function () {
    const self = this;
    if (!this.pendingKey) return;
    const key = this.pendingKey;
    SMZOutbox.get(key).then(function (r) {
      if (r) return;  // still waiting
      return SMZOutbox.results(self.owner).then(function (rows) {
        const res = rows.find(function (x) { return x.key === key; });
        if (!res) return;
        self.pendingKey = null;
        self.showOutcome(key, { kind: res.kind, verdict: res.verdict, error: res.error, status: res.status }, { capturedAt: res.capturedAt });
      });
    });
  };

  ClockPage.prototype.init = function () {
    const self = this;
    $("start-clock").addEventListener("click", function () { self.onStartClock(); });
    $("start-capture").addEventListener("click", function () { self.onStartCapture(); });
    $("relocate").addEventListener("click", function () { self.fix = null; self.checkedFix = null; self.locate(); });
    $("again").addEventListener("click", function () {
      $("result").className = "result";
      self.setStep("locate");
      self.maybePrecheck(true);
    });
    const sel = $("project");
    if (sel && sel.tagName === "SELECT") sel.addEventListener("change", function () { self.maybePrecheck(true); });
    window.addEventListener("online", function () { self.maybePrecheck(true); });
    window.addEventListener("offline", function () { self.maybePrecheck(true); });
    if ($("demo-enrol-start")) $("demo-enrol-start").addEventListener("click", function () { self.onDemoEnrol(); });
    if ($("demo-location-use")) $("demo-location-use").addEventListener("click", function () { self.useDemoPoint(); });
    if (window.SMZOutbox) SMZOutbox.onChange(function () { self.onOutboxChange(); });
    window.addEventListener("pagehide", function () { Camera.close(); });
    this.setStep("locate");
    this.locate();
    this.maybePrecheck(true);  // face, roster, project, fence: before the first fix
  };

  /* Demo mode only: a point inside the demo site's fence (a few metres of jitter: exactly repeated coordinates are a
     spoofing signal) stands in for the phone's fix; the phone's own position is no longer watched. */
  ClockPage.prototype.useDemoPoint = function () {
    if (!this.demoPoint) return;
    if (this.watch != null) { navigator.geolocation.clearWatch(this.watch); this.watch = null; }
    const jitter = function () { return (Math.random() - 0.5) * 0.00006; };
    const lon = this.demoPoint[0] + jitter();
    const lat = this.demoPoint[1] + jitter();
    this.fix = { lon: lon, lat: lat, accuracy: 8, at: Date.now(), demo: true };
    $("loc-coords").textContent = lat.toFixed(6) + ", " + lon.toFixed(6) + "（演示位置）";
    $("demo-location").hidden = true;
    this.maybePrecheck(true);
  };

  /* Demo mode only (the server refuses it otherwise): the demo worker enrols their own face before the first
     clock-in — one photo from the live camera, sent to /api/clockin/demo-enrol. */
  ClockPage.prototype.onDemoEnrol = function () {
    const self = this;
    const button = $("demo-enrol-start");
    const box = $("demo-enrol-message");
    const say = function (kind, text) { box.className = kind ? "msg " + kind : "msg"; box.textContent = text; box.hidden = !text; };
    if (this.busy) return;
    const consent = $("demo-consent");  // 单独同意: no face without the tick (the server refuses it too)
    if (consent && !consent.checked) { say("bad", "请先阅读人脸信息采集告知，并勾选同意"); return; }
    this.busy = true;
    button.disabled = true;
    this.updateStart();
    $("demo-camera").hidden = false;
    say("", "");
    Camera.open($("demo-preview")).then(function () {
      return self.countdown($("demo-prompt"));
    }).then(function () {
      return Camera.grab($("grab"), 0.9);
    }).then(function (blob) {
      Camera.close();
      say("", "正在采集…");
      const fd = new FormData();
      fd.append("photo", blob, "face.jpg");
      if (consent) fd.append("consent_version", consent.value);
      return fetch("/api/clockin/demo-enrol", {
        method: "POST", body: fd, credentials: "same-origin", headers: { Accept: "application/json" },
      }).then(function (res) {
        return res.json().catch(function () { return {}; }).then(function (data) {
          if (!res.ok) throw new Error(data.message || ("采集失败（" + res.status + "）"));
          say("ok", data.message || "已采集本人人脸");
          self.baseChecks = self.baseChecks.filter(function (c) { return c.code !== "face"; });
        });
      }, function () { throw new Error("网络不可用，请联网后再采集"); });
    }).catch(function (e) {
      Camera.close();
      say("bad", e.message || String(e));
    }).finally(function () {
      $("demo-camera").hidden = true;
      $("demo-prompt").textContent = "";
      button.disabled = false;
      self.busy = false;
      self.maybePrecheck(true);
    });
  };

  // ---------------------------------------------------------------------------- make-up page

  function MakeupPage(form) {
    this.form = form;
    this.evidence = null;
  }

  MakeupPage.prototype.init = function () {
    const self = this;
    const video = $("evidence-preview");
    const shoot = $("evidence-shoot");
    const open = $("evidence-open");
    const retake = $("evidence-retake");
    open.addEventListener("click", function () {
      open.disabled = true;
      $("evidence-camera").hidden = false;
      Camera.open(video).then(function () { shoot.disabled = false; }).catch(function (e) {
        self.message("bad", e.message);
        $("evidence-camera").hidden = true;
        open.disabled = false;
      });
    });
    shoot.addEventListener("click", function () {
      Camera.grab($("evidence-canvas"), 0.85).then(function (blob) {
        Camera.close();
        self.evidence = blob;
        $("evidence-camera").hidden = true;
        const img = $("evidence-thumb");
        img.src = URL.createObjectURL(blob);
        img.hidden = false;
        retake.hidden = false;
        open.hidden = true;
      }).catch(function (e) { self.message("bad", e.message); });
    });
    retake.addEventListener("click", function () {
      self.evidence = null;
      $("evidence-thumb").hidden = true;
      retake.hidden = true;
      open.hidden = false;
      open.disabled = false;
      open.click();
    });
    this.form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      self.submit();
    });
    window.addEventListener("pagehide", function () { Camera.close(); });
  };

  MakeupPage.prototype.message = function (kind, text) {
    const el = $("makeup-message");
    el.className = kind ? "msg " + kind : "msg";
    el.textContent = text;
    el.hidden = !text;
  };

  MakeupPage.prototype.submit = function () {
    const self = this;
    const f = this.form;
    const fd = new FormData();
    const when = f.elements.punch_time.value;
    if (!when) { this.message("bad", "请选择补卡时间"); return; }
    fd.append("project_id", f.elements.project_id.value);
    fd.append("punch_time", isoLocal(new Date(when)));
    fd.append("reason", f.elements.reason.value);
    fd.append("note", f.elements.note.value);
    if (f.elements.direction.value) fd.append("direction", f.elements.direction.value);
    if (this.evidence) fd.append("evidence", this.evidence, "evidence.jpg");
    const button = f.querySelector("button[type=submit]");
    button.disabled = true;
    this.message("", "正在提交…");
    fetch("/api/makeups/", { method: "POST", body: fd, credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (res) {
        return res.json().catch(function () { return {}; }).then(function (data) {
          if (!res.ok) throw new Error(data.message || ("提交失败（" + res.status + "）"));
          self.message("ok", "补卡申请已提交（编号 " + data.id + "），等待主管部门审核");
          f.reset();
          self.evidence = null;
          $("evidence-thumb").hidden = true;
          $("evidence-retake").hidden = true;
          $("evidence-open").hidden = false;
          $("evidence-open").disabled = false;
          if (window.htmx) htmx.trigger("#makeup-list", "refresh");
        });
      }, function () {
        throw new Error("网络不可用，请联网后再提交补卡申请");
      })
      .catch(function (e) { self.message("bad", e.message); })
      .finally(function () { button.disabled = false; });
  };

  document.addEventListener("DOMContentLoaded", function () {
    const clock = $("clock-app");
    if (clock) {
      window.SMZClock = new ClockPage(clock);
      window.SMZClock.init();
    }
    const makeup = $("makeup-form");
    if (makeup) {
      window.SMZMakeup = new MakeupPage(makeup);
      window.SMZMakeup.init();
    }
  });
})();
