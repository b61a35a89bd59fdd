// Crew registration on the foreman tablet: ID-card photos (downscaled before upload), optional OCR
// prefill, the liveness burst for 人证核验, and small helpers for the htmx forms.
(function () {
  "use strict";

  // htmx: show the server's error fragment (4xx/5xx) in the form's message box instead of dropping it.
  document.addEventListener("htmx:beforeSwap", function (e) {
    if (e.detail.xhr.status >= 400) {
      e.detail.shouldSwap = true;
      e.detail.isError = false;
      var form = e.detail.elt.closest ? e.detail.elt.closest("form") : null;
      var box = form && form.querySelector(".msg");
      if (box) e.detail.target = box;
    }
  });

  function showMessage(box, text, ok) {
    if (!box) return;
    box.innerHTML = "";
    var div = document.createElement("div");
    div.className = ok ? "ok" : "error";
    div.setAttribute("role", ok ? "status" : "alert");
    div.textContent = text;
    box.appendChild(div);
  }

  function markField(form, field) {
    form.querySelectorAll(".invalid").forEach(function (el) { el.classList.remove("invalid"); });
    if (!field) return;
    var el = form.elements[field];
    if (el && el.classList) { el.classList.add("invalid"); el.focus && el.focus(); }
  }

  async function readError(resp) {
    try {
      var body = await resp.json();
      return { message: body.message || ("请求失败（" + resp.status + "）"), field: body.field, code: body.code,
               extra: body.extra || {} };
    } catch (err) {
      return { message: resp.status === 413 ? "上传内容过大" : "请求失败（" + resp.status + "）", field: null,
               code: null, extra: {} };
    }
  }

  // A phone/tablet photo is several MB: send a JPEG with the long side at most 1600 px.  Anything the
  // browser cannot decode as an image is sent unchanged, so the server can name the problem.
  async function shrink(file, longSide, quality) {
    if (!file || !/^image\//.test(file.type) || !window.createImageBitmap) return file;
    try {
      var bmp = await createImageBitmap(file, { imageOrientation: "from-image" });
      var s = Math.min(1, longSide / Math.max(bmp.width, bmp.height));
      if (s === 1 && file.size < 1.5e6) { bmp.close && bmp.close(); return file; }
      var c = document.createElement("canvas");
      c.width = Math.round(bmp.width * s); c.height = Math.round(bmp.height * s);
      c.getContext("2d").drawImage(bmp, 0, 0, c.width, c.height);
      bmp.close && bmp.close();
      var blob = await new Promise(function (res) { c.toBlob(res, "image/jpeg", quality); });
      return blob ? new File([blob], (file.name || "photo").replace(/\.[^.]+$/, "") + ".jpg", { type: "image/jpeg" }) : file;
    } catch (err) {
      return file;
    }
  }

  // The birth date (YYYY-MM-DD) and gender ("M"/"F") an 18-character ID number encodes, or null.
  function idFacts(raw) {
    var n = String(raw || "").trim().toUpperCase().replace(/[０-９]/g, function (c) { return String.fromCharCode(c.charCodeAt(0) - 0xFEE0); });
    if (!/^[0-9]{17}[0-9X]$/.test(n)) return null;
    var y = +n.slice(6, 10), m = +n.slice(10, 12), d = +n.slice(12, 14);
    var dt = new Date(Date.UTC(y, m - 1, d));
    if (y < 1900 || dt.getUTCFullYear() !== y || dt.getUTCMonth() !== m - 1 || dt.getUTCDate() !== d) return null;
    return { birth: n.slice(6, 10) + "-" + n.slice(10, 12) + "-" + n.slice(12, 14), gender: (+n[16]) % 2 === 1 ? "M" : "F" };
  }
  window.smzIdFacts = idFacts;  // for tests and other pages

  // ------------------------------------------------------------------ step 1: the ID card
  var idForm = document.getElementById("id-form");
  if (idForm) {
    idForm.querySelectorAll("input[type=file]").forEach(function (input) {
      input.addEventListener("change", function () {
        var img = input.parentElement.querySelector("img.preview");
        var f = input.files && input.files[0];
        if (img && f && /^image\//.test(f.type)) { img.src = URL.createObjectURL(f); img.hidden = false; }
      });
    });
    // 出生日期 and 性别 from the ID number (GB 11643: digits 7–14 the birth date, the 17th odd = male); the
    // server checks the same (backend/validators.py cross_check_id).
    var idNumber = idForm.elements["id_number"];
    if (idNumber) idNumber.addEventListener("input", function () {
      var facts = idFacts(idNumber.value);
      if (!facts) return;
      if (idForm.elements["birth_date"]) idForm.elements["birth_date"].value = facts.birth;
      if (idForm.elements["gender"]) idForm.elements["gender"].value = facts.gender;
    });
    var longTerm = idForm.elements["id_long_term"];
    if (longTerm) longTerm.addEventListener("change", function () {
      idForm.elements["id_valid_until"].disabled = longTerm.checked;
    });
    idForm.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      var box = idForm.querySelector(".msg");
      var button = idForm.querySelector("button[type=submit]");
      button.disabled = true;
      showMessage(box, "正在核验身份证，请稍候…", true);
      try {
        var fd = new FormData(idForm);
        for (var name of ["id_front", "id_back"]) {
          var f = idForm.elements[name].files[0];
          if (f) fd.set(name, await shrink(f, 1600, 0.88));
        }
        var resp = await fetch(idForm.dataset.api, { method: "POST", body: fd, credentials: "same-origin" });
        if (resp.ok) {
          var data = await resp.json();
          window.location.href = idForm.dataset.next + data.id;
          return;
        }
        var err = await readError(resp);
        showMessage(box, err.message, false);
        markField(idForm, err.field);
      } catch (e) {
        showMessage(box, "网络错误，请重试", false);
      } finally {
        button.disabled = false;
      }
    });
    var ocrButton = document.getElementById("ocr-button");
    if (ocrButton) ocrButton.addEventListener("click", async function () {
      var status = document.getElementById("ocr-status");
      var fd = new FormData();
      for (var name of ["id_front", "id_back"]) {
        var f = idForm.elements[name].files[0];
        if (f) fd.set(name, await shrink(f, 1600, 0.9));
      }
      status.textContent = "正在识别…";
      try {
        var resp = await fetch(idForm.dataset.ocrApi, { method: "POST", body: fd, credentials: "same-origin" });
        var data = await resp.json();
        var n = 0;
        Object.entries(data.fields || {}).forEach(function (kv) {
          var el = idForm.elements[kv[0]];
          if (!el) return;
          if (el.type === "checkbox") el.checked = kv[1] === "1"; else el.value = kv[1];
          n += 1;
        });
        status.textContent = n ? "已填写 " + n + " 项，请逐项核对" : "未能识别，请手工填写";
      } catch (e) {
        status.textContent = "识别失败，请手工填写";
      }
    });
  }

  // ------------------------------------------------------------------ step 2: liveness (人证核验)
  // Same capture as the phone clock-in (pwa/static/js/clock.js): the challenge is shown first; on
  // "开始采集" the camera opens, a 2 s countdown runs, then 16 frames are grabbed 225 ms apart while
  // the actions are prompted in equal slots.  Frames are NOT mirrored (the server judges left/right
  // on what the camera sees); only the on-screen preview is mirrored by CSS.
  var live = document.getElementById("liveness");
  if (live) {
    var FRAMES = 16, INTERVAL_MS = 225, PREP_MS = 2000;
    var video = live.querySelector("video");
    var prompt = live.querySelector(".prompt");
    var start = document.getElementById("liveness-start");
    var capture = document.getElementById("liveness-capture");
    var list = document.getElementById("challenge-actions");
    var msg = live.querySelector(".msg");
    var challenge = null;
    var sleep = function (ms) { return new Promise(function (r) { setTimeout(r, ms); }); };

    function openCamera() {
      if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
        return Promise.reject(new Error("此浏览器不支持摄像头（需 HTTPS 或 localhost）"));
      }
      return navigator.mediaDevices.getUserMedia({ audio: false, video: { facingMode: "user", width: { ideal: 640 }, height: { ideal: 480 } } })
        .then(function (stream) { video.srcObject = stream; return video.play().catch(function () {}); })
        .then(function () {
          return new Promise(function (resolve, reject) {
            var t0 = performance.now();
            (function check() {
              if (video.readyState >= 2 && video.videoWidth > 0) return resolve();
              if (performance.now() - t0 > 10000) return reject(new Error("摄像头没有画面"));
              setTimeout(check, 50);
            })();
          });
        }, function () { throw new Error("无法打开摄像头：请允许浏览器使用摄像头"); });
    }
    function closeCamera() {
      var s = video.srcObject;
      if (s) s.getTracks().forEach(function (t) { t.stop(); });
      video.srcObject = null;
    }
    function grab() {
      var w = video.videoWidth || 640, h = video.videoHeight || 480;
      var s = Math.min(1, 640 / Math.max(w, h));
      var c = document.createElement("canvas");
      c.width = Math.round(w * s); c.height = Math.round(h * s);
      c.getContext("2d").drawImage(video, 0, 0, c.width, c.height);
      return new Promise(function (res) { c.toBlob(res, "image/jpeg", 0.85); });
    }

    var attempts = document.getElementById("liveness-attempts");
    // One primary action at a time: either "开始活体检测" or "准备好了，开始采集", never both.
    function showAction(button) {
      [start, capture].forEach(function (b) { b.hidden = b !== button; b.disabled = b !== button; });
      live.dataset.action = button === start ? "start" : "capture";
    }

    start.addEventListener("click", async function () {
      start.disabled = true;
      msg.innerHTML = "";
      try {
        var r = await fetch(live.dataset.challenge, { method: "POST", credentials: "same-origin" });
        if (!r.ok) { showMessage(msg, (await readError(r)).message, false); start.disabled = false; return; }
        challenge = await r.json();
        list.innerHTML = "";
        challenge.labels.forEach(function (label) { var li = document.createElement("li"); li.textContent = label; list.appendChild(li); });
        list.dataset.actions = challenge.actions.join(",");
        prompt.textContent = challenge.prompt;
        showAction(capture);
      } catch (e) {
        showMessage(msg, "网络错误，请重试", false);
        start.disabled = false;
      }
    });

    capture.addEventListener("click", async function () {
      if (!challenge) return;
      var ch = challenge;
      challenge = null;
      capture.disabled = true;
      try {
        prompt.textContent = "正在打开摄像头…";
        await openCamera();
        for (var i = Math.round(PREP_MS / 1000); i > 0; i--) { prompt.textContent = i + " 请正对镜头，准备"; await sleep(1000); }
        var n = Math.max(3, Math.min(ch.max_frames || FRAMES, FRAMES));
        var slot = (n - 1) * INTERVAL_MS / ch.actions.length;
        var blobs = [], capturedAt = null, t0 = performance.now();
        for (var k = 0; k < n; k++) {
          var wait = t0 + k * INTERVAL_MS - performance.now();
          if (wait > 0) await sleep(wait);
          var idx = Math.min(ch.actions.length - 1, Math.floor((performance.now() - t0) / slot));
          prompt.textContent = "请" + ch.labels[idx];
          if (k === 0) capturedAt = new Date().toISOString();
          blobs.push(grab());
        }
        var frames = await Promise.all(blobs);
        closeCamera();
        prompt.textContent = "正在比对，请稍候…";
        var fd = new FormData();
        fd.set("nonce", ch.nonce);
        fd.set("captured_at", capturedAt);
        frames.forEach(function (b, j) { if (b) fd.append("frames", b, "frame" + j + ".jpg"); });
        var resp = await fetch(live.dataset.submit, { method: "POST", body: fd, credentials: "same-origin" });
        if (resp.ok) {
          var out = await resp.json();
          prompt.textContent = out.status_label;
          live.dataset.result = out.status;
          window.location.reload();
          return;
        }
        prompt.textContent = "";
        var err = await readError(resp);
        showMessage(msg, err.message, false);
        if (attempts && typeof err.extra.attempts === "number") attempts.textContent = String(err.extra.attempts);
      } catch (e) {
        closeCamera();
        prompt.textContent = "";
        showMessage(msg, e && e.message ? e.message : "网络错误，请重试", false);
      }
      list.innerHTML = "";
      start.textContent = "重新开始活体检测";
      showAction(start);  // a new challenge for the next try
    });
    showAction(start);
  }

  // ------------------------------------------------------------------ step 3: roster fields
  function wireRoster(root) {
    var form = root.querySelector("#roster-step form");
    if (!form || !form.elements["work_role"]) return;
    var role = form.elements["work_role"], unit = form.elements["unit_id"], team = form.elements["team_id"];
    function sync() {
      var manager = role.value === "manager";
      form.querySelector(".for-manager").hidden = !manager;
      form.querySelector(".for-worker").hidden = manager;
      if (manager) form.elements["work_type"].value = ""; else form.elements["post"].value = "";
      var first = null;
      Array.from(team.options).forEach(function (o) {
        var fits = o.dataset.unit === unit.value && ((o.dataset.kind === "management") === manager);
        o.hidden = !fits; o.disabled = !fits;
        if (fits && !first) first = o;
      });
      if (team.selectedOptions[0] && team.selectedOptions[0].disabled && first) team.value = first.value;
    }
    role.addEventListener("change", sync);
    unit.addEventListener("change", sync);
    sync();
  }
  wireRoster(document);
})();
