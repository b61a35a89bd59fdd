// Electronic fence page: a Leaflet map (vendored; plain grey canvas when no tile server is configured),
// the project's fences, a small hand-written drawing toolbar (polygon / circle / corridor), GeoJSON text
// editing, file import with preview, version history and the re-judging report.  All data goes through
// the JSON API (/api/projects/{id}/fences); API errors are shown in Chinese next to the field they name.
(function () {
  "use strict";

  var cfgEl = document.getElementById("fence-config");
  if (!cfgEl || !window.L) return;
  var cfg = JSON.parse(cfgEl.textContent);
  var API = "/api/projects/" + cfg.projectId + "/fences";
  var COLORS = { polygon: "#0b6bcb", circle: "#12805c", corridor: "#7a2ed6" };
  var DRAFT = { color: "#e04f16", weight: 2, dashArray: "6 4", fillOpacity: 0.15 };

  var state = {
    crs: cfg.crs || "wgs84",
    fences: [],
    tool: "none",
    points: [],          // drawing: [lat, lng] pairs
    centre: null,        // circle tool: L.LatLng
    radiusFixed: false,
    editing: null,       // fence being edited (from the list)
    fitted: false,
  };

  // --- map -------------------------------------------------------------------------------------
  var map = L.map("fence-map", { attributionControl: !!cfg.tileUrl, doubleClickZoom: true });
  if (cfg.tileUrl) {
    L.tileLayer(cfg.tileUrl, { maxZoom: 20, maxNativeZoom: 18, attribution: "" }).addTo(map);
  }
  L.control.scale({ imperial: false, maxWidth: 160 }).addTo(map);
  if (typeof cfg.lat === "number" && typeof cfg.lon === "number") map.setView([cfg.lat, cfg.lon], 15);
  else map.setView([35.0, 105.0], 4);
  var fenceLayer = L.featureGroup().addTo(map);
  var extraLayer = L.featureGroup().addTo(map);   // import preview, history versions
  var draftLayer = L.featureGroup().addTo(map);

  var $ = function (sel, root) { return (root || document).querySelector(sel); };
  var form = $("#fence-form");
  var importForm = $("#import-form");

  function crsLabel() { return cfg.crsLabels[state.crs] || state.crs; }

  function setCrsLabels() {
    if ($("#crs-badge")) $("#crs-badge").textContent = crsLabel();
    document.querySelectorAll(".crs-label").forEach(function (el) { el.textContent = crsLabel(); });
  }

  // Where the pointer is (mouse) or where the map was tapped (touch screens have no hover).
  function showPosition(e) {
    var prefix = cfg.canEdit ? crsLabel() + "  " : "";
    $("#cursor-pos").textContent = prefix + "经度 " + e.latlng.lng.toFixed(6) + "，纬度 " + e.latlng.lat.toFixed(6);
  }
  (function () {
    var pos = $("#cursor-pos");
    var touch = window.matchMedia && window.matchMedia("(hover: none)").matches;
    if (pos && pos.dataset.mouse) pos.textContent = touch ? pos.dataset.touch : pos.dataset.mouse;
  })();
  map.on("mousemove", showPosition);
  map.on("click", showPosition);

  // --- messages ----------------------------------------------------------------------------------
  function show(box, text, kind) {
    if (!box) return;
    box.innerHTML = "";
    if (!text) return;
    var div = document.createElement("div");
    div.className = kind || "error";
    div.setAttribute("role", kind === "ok" ? "status" : "alert");
    div.textContent = text;
    box.appendChild(div);
  }

  function clearErrors(root) {
    if (!root) return;
    root.querySelectorAll(".field-error").forEach(function (el) { el.textContent = ""; });
    root.querySelectorAll(".invalid").forEach(function (el) { el.classList.remove("invalid"); });
  }

  // "geometry.coordinates[0][2]" → the "geometry" slot; unknown fields go to the form's message box.
  function fieldError(root, field, message, fallbackBox) {
    var key = String(field || "").split(/[.[]/)[0];
    var slot = key && root ? root.querySelector('.field-error[data-for="' + key + '"]') : null;
    if (slot) {
      slot.textContent = message + (field && field !== key ? "（" + field + "）" : "");
      var input = root.elements && root.elements[key];
      if (input && input.classList) input.classList.add("invalid");
      return;
    }
    show(fallbackBox, message);
  }

  async function api(method, path, body, isForm) {
    var opts = { method: method, headers: { Accept: "application/json" }, credentials: "same-origin" };
    if (body !== undefined) {
      if (isForm) opts.body = body;
      else { opts.body = JSON.stringify(body); opts.headers["Content-Type"] = "application/json"; }
    }
    var resp;
    try {
      resp = await fetch(API + path, opts);
    } catch (err) {
      throw { message: "网络连接失败，请稍后重试", field: null };
    }
    var data = null;
    try { data = await resp.json(); } catch (err) { data = null; }
    if (!resp.ok) {
      var msg = data && data.message ? data.message
        : resp.status === 413 ? "上传内容过大" : "请求失败（" + resp.status + "）";
      throw { message: msg, field: data && data.field, code: data && data.code, status: resp.status };
    }
    return data;
  }

  // --- drawing fences ----------------------------------------------------------------------------
  function latlngs(coords) { return coords.map(function (c) { return [c[1], c[0]]; }); }

  function fenceGroup(feature, color, dashed) {
    var g = feature.geometry, p = feature.properties || {};
    var style = { color: color, weight: 2, fillOpacity: 0.12, dashArray: dashed ? "6 4" : null };
    var group = L.featureGroup();
    if (p.outline) L.geoJSON(p.outline, { style: style }).addTo(group);
    if (g.type === "LineString") {
      L.polyline(latlngs(g.coordinates), { color: color, weight: 1.5, dashArray: "8 6" }).addTo(group);
    } else if (g.type === "Point") {
      if (!p.outline && p.radius_m) L.circle([g.coordinates[1], g.coordinates[0]], { radius: p.radius_m }).setStyle(style).addTo(group);
      L.circleMarker([g.coordinates[1], g.coordinates[0]], { radius: 3, color: color, weight: 2 }).addTo(group);
    } else {
      L.geoJSON(g, { style: style }).addTo(group);
    }
    return group;
  }

  function describe(f) {
    var extra = f.kind === "circle" ? "半径 " + f.radius_m + " 米" : f.kind === "corridor" ? "宽 " + f.width_m + " 米" : "";
    return f.kind_label + (extra ? "，" + extra : "");
  }

  function renderFences() {
    fenceLayer.clearLayers();
    var list = $("#fence-list");
    list.innerHTML = "";
    if (!state.fences.length) {
      var li = document.createElement("li");
      li.className = "muted";
      li.textContent = "本项目还没有电子围栏" + (cfg.canEdit ? "：用上方工具绘制，或导入文件。" : "。");
      list.appendChild(li);
    }
    state.fences.forEach(function (f) {
      var layer = fenceGroup(f.feature, COLORS[f.kind] || "#0b6bcb", false);
      layer.bindTooltip(f.name + "（" + describe(f) + "）", { sticky: true });
      layer.addTo(fenceLayer);
      f._layer = layer;

      var li = document.createElement("li");
      if (state.editing && state.editing.id === f.id) li.className = "active";
      var name = document.createElement("span");
      name.className = "fname";
      name.textContent = f.name;
      li.appendChild(name);
      li.appendChild(button("定位", function () { map.fitBounds(layer.getBounds(), { maxZoom: 18, padding: [30, 30] }); }));
      if (cfg.canEdit) li.appendChild(button("编辑", function () { startEdit(f); }));
      li.appendChild(button("历史", function () { showHistory(f); }));
      if (cfg.canEdit) li.appendChild(button("删除", function () { removeFence(f); }));
      var meta = document.createElement("span");
      meta.className = "fmeta";
      meta.textContent = describe(f) + " · 第 " + f.version + " 版，" + fmtTime(f.valid_from) + " 起生效" +
        (f.input_crs && f.input_crs !== "wgs84" ? " · 录入坐标系 " + (cfg.crsLabels[f.input_crs] || f.input_crs) : "") +
        (f.repaired ? " · 已自动修复自相交" : "");
      li.appendChild(meta);
      list.appendChild(li);
    });
  }

  function button(text, onClick) {
    var b = document.createElement("button");
    b.type = "button";
    b.textContent = text;
    b.addEventListener("click", onClick);
    return b;
  }

  function fmtTime(iso) {
    if (!iso) return "—";
    var d = new Date(iso);
    if (isNaN(d.getTime())) return iso;
    var p = function (n) { return (n < 10 ? "0" : "") + n; };
    return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate()) + " " + p(d.getHours()) + ":" + p(d.getMinutes()) + ":" + p(d.getSeconds());
  }

  function fitAll() {
    var b = fenceLayer.getBounds();
    if (b.isValid()) map.fitBounds(b, { maxZoom: 17, padding: [30, 30] });
  }

  async function load() {
    try {
      state.fences = await api("GET", "/?crs=" + state.crs);
      show($("#list-msg"), "");
    } catch (err) {
      show($("#list-msg"), err.message);
      return;
    }
    renderFences();
    if (!state.fitted) { fitAll(); state.fitted = true; }
  }

  // --- toolbar -----------------------------------------------------------------------------------
  var HINTS = {
    none: "选择工具后在地图上绘制，或直接编辑下方 GeoJSON 文本。",
    polygon: "多边形：在地图上单击添加顶点，双击结束（至少 3 个点）。",
    circle: "圆形：单击圆心，移动鼠标后再次单击确定半径；也可在“半径”中直接输入。",
    corridor: "带状：单击添加道路中心线上的点，双击结束（至少 2 个点）；宽度在下方输入（道路总宽）。",
  };

  function setTool(tool) {
    state.tool = tool;
    state.points = [];
    state.centre = null;
    state.radiusFixed = false;
    document.querySelectorAll(".toolbar [data-tool]").forEach(function (b) {
      b.setAttribute("aria-pressed", b.dataset.tool === tool && tool !== "none" ? "true" : "false");
    });
    var hint = $("#tool-hint");
    if (hint) hint.textContent = HINTS[tool] || "";
    var el = map.getContainer();
    if (tool === "none") { el.classList.remove("drawing"); map.doubleClickZoom.enable(); }
    else {
      el.classList.add("drawing");
      map.doubleClickZoom.disable();
      form.elements.kind.value = tool;
      syncKindFields();
      draftLayer.clearLayers();
    }
  }

  function metresPerPixel() {
    var c = map.getCenter();
    return 40075016.686 * Math.cos(c.lat * Math.PI / 180) / Math.pow(2, map.getZoom() + 8);
  }

  function widthValue() {
    var w = parseFloat(form.elements.width_m.value);
    return isFinite(w) && w > 0 ? w : 0;
  }

  function drawDraft(cursor) {
    draftLayer.clearLayers();
    var pts = state.points.slice();
    if (cursor) pts.push([cursor.lat, cursor.lng]);
    if (state.tool === "polygon" && pts.length) {
      (pts.length >= 3 ? L.polygon(pts, DRAFT) : L.polyline(pts, DRAFT)).addTo(draftLayer);
    } else if (state.tool === "corridor" && pts.length) {
      var w = widthValue();
      if (w > 0 && pts.length >= 2) {
        L.polyline(pts, { color: DRAFT.color, opacity: 0.25, weight: Math.max(2, w / metresPerPixel()), lineCap: "butt", lineJoin: "round" }).addTo(draftLayer);
      }
      L.polyline(pts, DRAFT).addTo(draftLayer);
    } else if (state.tool === "circle" && state.centre) {
      var r = parseFloat(form.elements.radius_m.value);
      if (!state.radiusFixed && cursor) {
        r = map.distance(state.centre, cursor);
        form.elements.radius_m.value = r.toFixed(1);
      }
      if (isFinite(r) && r > 0) L.circle(state.centre, Object.assign({ radius: r }, DRAFT)).addTo(draftLayer);
      L.circleMarker(state.centre, { radius: 3, color: DRAFT.color }).addTo(draftLayer);
    }
    state.points.forEach(function (p) { L.circleMarker(p, { radius: 3, color: DRAFT.color, weight: 2 }).addTo(draftLayer); });
  }

  function samePlace(a, b) {
    return map.latLngToContainerPoint(a).distanceTo(map.latLngToContainerPoint(b)) < 5;
  }

  map.on("click", function (e) {
    if (state.tool === "none") return;
    if (state.tool === "circle") {
      if (!state.centre) {  // first click: the centre; the radius follows the mouse until the second click
        state.centre = e.latlng;
        state.radiusFixed = false;
        form.elements.radius_m.value = "";
        drawDraft();
      } else {
        state.radiusFixed = true;
        finishCircle();
      }
      return;
    }
    var last = state.points[state.points.length - 1];
    if (last && samePlace(L.latLng(last[0], last[1]), e.latlng)) return;  // the 2nd click of a double-click
    state.points.push([e.latlng.lat, e.latlng.lng]);
    drawDraft();
  });

  map.on("mousemove", function (e) {
    if (state.tool === "none") return;
    if (state.tool === "circle" && !state.centre) return;
    drawDraft(e.latlng);
  });

  map.on("dblclick", function () {
    if (state.tool === "polygon") {
      if (state.points.length < 3) { show($("#form-msg"), "多边形至少需要 3 个点"); return; }
      var ring = state.points.map(lonlat);
      ring.push(ring[0].slice());
      finishShape("polygon", { type: "Polygon", coordinates: [ring] });
    } else if (state.tool === "corridor") {
      if (state.points.length < 2) { show($("#form-msg"), "中心线至少需要 2 个点"); return; }
      finishShape("corridor", { type: "LineString", coordinates: state.points.map(lonlat) });
    }
  });

  function round7(x) { return Math.round(x * 1e7) / 1e7; }
  function lonlat(p) { return [round7(p[1]), round7(p[0])]; }

  function finishCircle() {
    finishShape("circle", { type: "Point", coordinates: [round7(state.centre.lng), round7(state.centre.lat)] });
  }

  function finishShape(kind, geometry) {
    form.elements.kind.value = kind;
    form.elements.geometry.value = JSON.stringify(geometry);
    syncKindFields();
    var tool = state.tool;
    setTool("none");
    previewFromText(true);
    show($("#form-msg"), (cfg.kinds[kind] || kind) + "已绘制（" + crsLabel() + "），填写名称后保存。", "ok");
    if (!form.elements.name.value) form.elements.name.focus();
    return tool;
  }

  document.querySelectorAll(".toolbar [data-tool]").forEach(function (b) {
    b.addEventListener("click", function () { setTool(b.dataset.tool); });
  });

  // --- the form ----------------------------------------------------------------------------------
  function syncKindFields() {
    if (!form) return;
    var kind = form.elements.kind.value;
    form.querySelectorAll(".for-kind").forEach(function (el) { el.hidden = el.dataset.kind !== kind; });
  }

  function parseGeometry() {
    var text = form.elements.geometry.value.trim();
    if (!text) throw { field: "geometry", message: "请在地图上绘制围栏，或填写 GeoJSON 几何" };
    var g;
    try { g = JSON.parse(text); } catch (err) {
      throw { field: "geometry", message: "GeoJSON 格式错误：" + err.message };
    }
    if (g && g.type === "Feature") g = g.geometry;
    if (g && g.type === "FeatureCollection") {
      if (!g.features || g.features.length !== 1) throw { field: "geometry", message: "这里只能填写一个围栏（多个请用导入）" };
      g = g.features[0].geometry;
    }
    if (!g || typeof g !== "object") throw { field: "geometry", message: "GeoJSON 几何应为对象" };
    return g;
  }

  // Draw what the text says (after a drawing, or when the user edited the GeoJSON).
  function previewFromText(quiet) {
    // a quiet redraw (zoom, typing a width) leaves the messages alone: the server's errors stay until the next submit
    if (!quiet) clearErrors(form);
    draftLayer.clearLayers();
    var g;
    try { g = parseGeometry(); } catch (err) {
      if (!quiet) fieldError(form, err.field, err.message, $("#form-msg"));
      return false;
    }
    var kind = form.elements.kind.value;
    var props = {};
    if (kind === "circle") props.radius_m = parseFloat(form.elements.radius_m.value) || 0;
    try {
      if (kind === "corridor" && g.type === "LineString") {
        var pts = latlngs(g.coordinates);
        var w = widthValue();
        if (w > 0) L.polyline(pts, { color: DRAFT.color, opacity: 0.25, weight: Math.max(2, w / metresPerPixel()), lineCap: "butt" }).addTo(draftLayer);
        L.polyline(pts, DRAFT).addTo(draftLayer);
      } else {
        fenceGroup({ type: "Feature", geometry: g, properties: props }, DRAFT.color, true).addTo(draftLayer);
      }
    } catch (err) {
      if (!quiet) fieldError(form, "geometry", "无法在地图上显示该几何：" + err.message, $("#form-msg"));
      return false;
    }
    if (!quiet && draftLayer.getBounds().isValid()) map.fitBounds(draftLayer.getBounds(), { maxZoom: 18, padding: [30, 30] });
    return true;
  }

  function resetForm() {
    if (!form) return;
    state.editing = null;
    form.reset();
    form.elements.fence_id.value = "";
    form.elements.expected_version.value = "";
    form.elements.geometry.value = "";
    $("#editor-title").textContent = "新建围栏";
    clearErrors(form);
    draftLayer.clearLayers();
    syncKindFields();
    setTool("none");
    renderFences();
  }

  function startEdit(f) {
    setTool("none");
    state.editing = f;
    form.elements.fence_id.value = f.id;
    form.elements.expected_version.value = f.version;
    form.elements.name.value = f.name;
    form.elements.kind.value = f.kind;
    form.elements.radius_m.value = f.radius_m || "";
    form.elements.width_m.value = f.width_m || 30;
    form.elements.geometry.value = JSON.stringify(f.feature.geometry);
    $("#editor-title").textContent = "编辑：" + f.name + "（第 " + f.version + " 版）";
    syncKindFields();
    clearErrors(form);
    show($("#form-msg"), "可用工具重新绘制，或修改 GeoJSON 文本；保存后生成第 " + (f.version + 1) + " 版，原版本保留。", "ok");
    renderFences();
    previewFromText(false);
    form.scrollIntoView({ behavior: "smooth", block: "start" });
  }

  if (form) {
    form.elements.kind.addEventListener("change", syncKindFields);
    form.elements.radius_m.addEventListener("input", function () {
      if (state.tool === "circle" && state.centre) { state.radiusFixed = true; finishCircle(); }  // typed radius
      else if (form.elements.geometry.value) previewFromText(true);
    });
    form.elements.width_m.addEventListener("input", function () {
      if (state.tool === "corridor") drawDraft(); else if (form.elements.geometry.value) previewFromText(true);
    });
    map.on("zoomend", function () {
      if (state.tool === "corridor") drawDraft();
      else if (form.elements.kind.value === "corridor" && form.elements.geometry.value) previewFromText(true);
    });
    $("#apply-text").addEventListener("click", function () { previewFromText(false); });
    $("#cancel-edit").addEventListener("click", function () { resetForm(); show($("#form-msg"), ""); });

    form.addEventListener("submit", async function (e) {
      e.preventDefault();
      clearErrors(form);
      show($("#form-msg"), "");
      var body;
      try {
        body = { name: form.elements.name.value, kind: form.elements.kind.value, geometry: parseGeometry(), crs: state.crs };
      } catch (err) {
        fieldError(form, err.field, err.message, $("#form-msg"));
        return;
      }
      if (body.kind === "circle") body.radius_m = numberOrNull(form.elements.radius_m.value);
      if (body.kind === "corridor") body.width_m = numberOrNull(form.elements.width_m.value);
      var id = form.elements.fence_id.value;
      if (id) body.expected_version = parseInt(form.elements.expected_version.value, 10);
      try {
        var saved = await api(id ? "PUT" : "POST", id ? "/" + id : "/", body);
        var warnings = (saved.warnings || []).map(function (w) { return w.message; });
        resetForm();
        show($("#form-msg"), (id ? "已保存为第 " + saved.version + " 版" : "已创建围栏“" + saved.name + "”") +
          (warnings.length ? "。注意：" + warnings.join("；") : ""), warnings.length ? "warn" : "ok");
        await load();
      } catch (err) {
        if (err.field === "radius_m" && body.kind !== "circle") err.field = null;
        fieldError(form, err.field, err.message, $("#form-msg"));
      }
    });
  }

  function numberOrNull(v) {
    if (v === "" || v === null || v === undefined) return null;
    var n = Number(v);
    return isFinite(n) ? n : null;
  }

  async function removeFence(f) {
    if (!window.confirm("删除围栏“" + f.name + "”？删除后不再用于新的打卡，历史版本保留。")) return;
    try {
      await api("DELETE", "/" + f.id);
      show($("#list-msg"), "已删除“" + f.name + "”", "ok");
      if (state.editing && state.editing.id === f.id) resetForm();
      await load();
    } catch (err) {
      show($("#list-msg"), err.message);
    }
  }

  // --- history ---------------------------------------------------------------------------------------
  async function showHistory(f) {
    var card = $("#history-card");
    var list = $("#history-list");
    card.hidden = false;
    $("#history-title").textContent = "版本历史：" + f.name;
    list.innerHTML = "<li class='muted'>加载中…</li>";
    try {
      var versions = await api("GET", "/" + f.id + "/versions?crs=" + state.crs);
      list.innerHTML = "";
      versions.forEach(function (v) {
        var li = document.createElement("li");
        li.textContent = "第 " + v.version + " 版：" + fmtTime(v.valid_from) + " 至 " + (v.valid_to ? fmtTime(v.valid_to) : "现在") +
          "（" + describe({ kind: v.kind, kind_label: cfg.kinds[v.kind], radius_m: v.radius_m, width_m: v.width_m }) + "） ";
        li.appendChild(button("在地图上显示", function () {
          extraLayer.clearLayers();
          var layer = fenceGroup(v.feature, "#667085", true).addTo(extraLayer);
          map.fitBounds(layer.getBounds(), { maxZoom: 18, padding: [30, 30] });
        }));
        list.appendChild(li);
      });
    } catch (err) {
      list.innerHTML = "";
      show(list, err.message);
    }
  }

  // --- import ---------------------------------------------------------------------------------------
  async function sendImport(preview) {
    clearErrors(importForm);
    show($("#import-msg"), "");
    var file = importForm.elements.file.files[0];
    if (!file) { fieldError(importForm, "file", "请选择要导入的文件"); return; }
    if (file.size > cfg.importMaxBytes) {
      fieldError(importForm, "file", "文件过大（上限 " + Math.floor(cfg.importMaxBytes / 1024) + " KB）");
      return;
    }
    var fd = new FormData();
    fd.append("file", file);
    fd.append("crs", importForm.elements.crs.value);
    if (preview) fd.append("preview", "1");
    try {
      var res = await api("POST", "/import", fd, true);
      extraLayer.clearLayers();
      if (preview) {
        res.fences.forEach(function (f) { fenceGroup(f.feature, "#e04f16", true).bindTooltip(f.name).addTo(extraLayer); });
        if (extraLayer.getBounds().isValid()) map.fitBounds(extraLayer.getBounds(), { maxZoom: 17, padding: [30, 30] });
        var warns = [];
        res.fences.forEach(function (f) { (f.warnings || []).forEach(function (w) { warns.push(f.name + "：" + w.message); }); });
        show($("#import-msg"), "预览（WGS-84，虚线，尚未保存）：" + res.fences.map(function (f) { return f.name + "（" + f.kind_label + "）"; }).join("、") +
          (warns.length ? "。注意：" + warns.join("；") : ""), warns.length ? "warn" : "ok");
        if (state.crs !== "wgs84") show($("#map-msg"), "预览以 WGS-84 显示；当前地图坐标系为 " + crsLabel() + "，位置可能有数百米偏移。", "warn");
      } else {
        show($("#import-msg"), "已导入 " + res.count + " 个围栏：" + res.fences.map(function (f) { return f.name; }).join("、"), "ok");
        importForm.reset();
        state.fitted = false;
        await load();
      }
    } catch (err) {
      fieldError(importForm, err.field || "file", err.message, $("#import-msg"));
    }
  }

  if (importForm) {
    $("#import-preview").addEventListener("click", function () { sendImport(true); });
    importForm.addEventListener("submit", function (e) { e.preventDefault(); sendImport(false); });
  }

  // --- re-judging report ----------------------------------------------------------------------------
  var rejudgeForm = $("#rejudge-form");
  if (rejudgeForm) {
    rejudgeForm.addEventListener("submit", async function (e) {
      e.preventDefault();
      clearErrors(rejudgeForm);
      var out = $("#rejudge-result");
      out.innerHTML = "<p class='muted'>复核中…</p>";
      try {
        var rep = await api("POST", "/rejudge", { date_from: rejudgeForm.elements.date_from.value, date_to: rejudgeForm.elements.date_to.value });
        out.innerHTML = "";
        var p = document.createElement("p");
        p.textContent = rep.date_from + " 至 " + rep.date_to + "：手机打卡 " + rep.total + " 条，按当前围栏判定有变化 " + rep.changed + " 条。";
        out.appendChild(p);
        if (rep.fence_transitions.length) {
          out.appendChild(table(["原结果", "按当前围栏", "条数"], rep.fence_transitions.map(function (t) { return [t.from_label, t.to_label, t.count]; })));
        }
        if (rep.verdict_transitions.length) {
          out.appendChild(table(["原考勤结果", "将变为", "条数"], rep.verdict_transitions.map(function (t) { return [t.from_label, t.to_label, t.count]; })));
        }
        var note = document.createElement("div");
        note.className = "warn";
        note.textContent = rep.message;
        out.appendChild(note);
      } catch (err) {
        out.innerHTML = "";
        fieldError(rejudgeForm, err.field, err.message, out);
      }
    });
  }

  function table(head, rows) {
    var t = document.createElement("table");
    t.className = "report";
    var tr = document.createElement("tr");
    head.forEach(function (h) { var th = document.createElement("th"); th.textContent = h; tr.appendChild(th); });
    t.appendChild(tr);
    rows.forEach(function (r) {
      var row = document.createElement("tr");
      r.forEach(function (c) { var td = document.createElement("td"); td.textContent = c; row.appendChild(td); });
      t.appendChild(row);
    });
    return t;
  }

  // --- coordinate system ------------------------------------------------------------------------------
  var crsSelect = $("#crs-select");
  crsSelect.value = state.crs;
  if (importForm) importForm.elements.crs.value = state.crs;
  crsSelect.addEventListener("change", async function () {
    var editing = state.editing;
    var hadDraft = form && !editing && form.elements.geometry.value.trim();
    state.crs = crsSelect.value;
    setCrsLabels();
    extraLayer.clearLayers();
    show($("#map-msg"), "");
    await load();
    if (editing) {
      var again = state.fences.filter(function (f) { return f.id === editing.id; })[0];
      if (again) startEdit(again);
    } else if (hadDraft) {
      form.elements.geometry.value = "";
      draftLayer.clearLayers();
      show($("#form-msg"), "坐标系已切换为 " + crsLabel() + "，原绘制内容已清除，请重新绘制。", "warn");
    }
  });

  setCrsLabels();
  syncKindFields();
  setTool("none");
  load();
})();
