// Project application (项目申报): the form (map click sets the location, units added row by row), checks in the
// browser with the server's own Chinese messages (config.messages), JSON to /api/approvals/applications, and the
// district's decision (pass → the one-time password of the issued account is shown once; return → a reason).
(function () {
  "use strict";

  var $ = function (sel, root) { return (root || document).querySelector(sel); };
  var cfgEl = document.getElementById("application-config");
  var cfg = cfgEl ? JSON.parse(cfgEl.textContent) : { messages: {} };
  var M = cfg.messages || {};

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

  function apiError(body, status) {
    if (body && body.message) return body;
    return { message: "请求失败（HTTP " + status + "）", field: null };
  }

  function send(method, url, payload) {
    return fetch(url, {
      method: method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: payload === undefined ? undefined : JSON.stringify(payload),
    }).then(function (resp) {
      return resp.json().catch(function () { return null; }).then(function (body) {
        if (!resp.ok) throw apiError(body, resp.status);
        return body;
      });
    });
  }

  // --- GB 32100 check character (the same as backend/validators.uscc_check_char) ------------------------------
  var USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY";
  var USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
  function usccProblem(raw) {
    var code = (raw || "").trim().toUpperCase();
    if (code.length !== 18) return "uscc_format";
    for (var i = 0; i < 18; i++) if (USCC_CHARS.indexOf(code[i]) < 0) return "uscc_format";
    var total = 0;
    for (var j = 0; j < 17; j++) total += USCC_CHARS.indexOf(code[j]) * USCC_WEIGHTS[j];
    return USCC_CHARS[(31 - total % 31) % 31] === code[17] ? null : "uscc_check";
  }

  // --- the form ------------------------------------------------------------------------------------------------
  var form = $("#application-form");
  if (form) {
    var rows = $("#unit-rows", form);
    var rowTpl = $("#unit-row", form);
    var marker = null;
    var map = null;

    var addRow = function (u) {
      if (rows.children.length >= (cfg.maxUnits || 20)) return;
      var tr = rowTpl.content.firstElementChild.cloneNode(true);
      if (u) {
        $("[data-unit=name]", tr).value = u.name || "";
        $("[data-unit=uscc]", tr).value = u.uscc || "";
        $("[data-unit=unit_type]", tr).value = u.unit_type || "";
      }
      $(".remove-unit", tr).addEventListener("click", function () { tr.remove(); });
      rows.appendChild(tr);
    };
    $("#add-unit", form).addEventListener("click", function () { addRow(null); });

    var setPoint = function (lat, lon, move) {
      form.elements.lon.value = lon.toFixed(6);
      form.elements.lat.value = lat.toFixed(6);
      if (!map) return;
      if (marker) marker.setLatLng([lat, lon]);
      else marker = L.marker([lat, lon]).addTo(map);
      if (move) map.setView([lat, lon], 14);
    };

    if (window.L && $("#application-map")) {
      map = L.map("application-map", { attributionControl: !!cfg.tileUrl });
      if (cfg.tileUrl) L.tileLayer(cfg.tileUrl, { maxZoom: 20, maxNativeZoom: 18, attribution: "" }).addTo(map);
      L.control.scale({ imperial: false, maxWidth: 160 }).addTo(map);
      map.setView([35.0, 105.0], 4);
      map.on("click", function (e) { setPoint(e.latlng.lat, e.latlng.lng, false); clearError("lon"); });
      ["lon", "lat"].forEach(function (n) {
        form.elements[n].addEventListener("change", function () {
          var lon = parseFloat(form.elements.lon.value), lat = parseFloat(form.elements.lat.value);
          if (isFinite(lon) && isFinite(lat)) setPoint(lat, lon, true);
        });
      });
    }

    var syncCategory = function () {
      var building = form.elements.category.value === "building";
      form.elements.floor_area_m2.required = building;
      document.querySelectorAll(".req-building").forEach(function (el) { el.hidden = !building; });
    };
    form.elements.category.addEventListener("change", syncCategory);

    // Prefill (a returned application being corrected).
    var a = cfg.application;
    if (a) {
      ["name", "permit_no", "category", "address", "planned_start", "planned_finish", "floor_area_m2",
        "contract_value_yuan", "applicant_name", "applicant_phone"].forEach(function (k) {
        if (form.elements[k] && a[k] !== null && a[k] !== undefined) form.elements[k].value = a[k];
      });
      form.elements.district_id.value = String(a.district);
      if (typeof a.lat === "number" && typeof a.lon === "number") setPoint(a.lat, a.lon, true);
      (a.units || []).forEach(addRow);
    } else {
      addRow(null);
    }
    syncCategory();

    var clearError = function (field) {
      var box = form.querySelector('[data-for="' + field + '"]');
      if (box) box.textContent = "";
    };
    var clearAll = function () {
      form.querySelectorAll(".field-error").forEach(function (el) { el.textContent = ""; });
      show($("#form-msg"), "");
    };
    var fieldError = function (field, text) {
      var m = /^units\.(\d+)\.(\w+)$/.exec(field || "");
      var box = null;
      if (m) {
        var tr = rows.children[+m[1]];
        if (tr) box = tr.querySelector('[data-unit-error="' + m[2] + '"]');
      } else if (field) {
        box = form.querySelector('[data-for="' + (field === "lat" ? "lon" : field) + '"]');
      }
      if (box) box.textContent = text;
      show($("#form-msg"), text);
      var input = m ? (rows.children[+m[1]] || form).querySelector('[data-unit="' + m[2] + '"]')
        : form.elements[field];
      if (input && input.focus) input.focus();
    };

    var collect = function () {
      var v = function (n) { return form.elements[n].value.trim(); };
      var units = [];
      Array.prototype.forEach.call(rows.children, function (tr) {
        units.push({ name: $("[data-unit=name]", tr).value.trim(), uscc: $("[data-unit=uscc]", tr).value.trim().toUpperCase(),
          unit_type: $("[data-unit=unit_type]", tr).value });
      });
      return {
        name: v("name"), permit_no: v("permit_no"), category: v("category"), district_id: v("district_id"),
        address: v("address"), lon: v("lon"), lat: v("lat"), planned_start: v("planned_start"),
        planned_finish: v("planned_finish"), floor_area_m2: v("floor_area_m2"),
        contract_value_yuan: v("contract_value_yuan"), applicant_name: v("applicant_name"),
        applicant_phone: v("applicant_phone"), units: units,
      };
    };

    // The same checks, in the same order, as backend/approvals/services.clean_application.
    var check = function (d) {
      var positive = function (s) { var n = parseFloat(s); return isFinite(n) && n > 0 && n < 1e13; };
      if (!d.name) return ["name", "name"];
      if (!/^[0-9A-Za-z\-]{4,40}$/.test(d.permit_no)) return ["permit_no", "permit_no"];
      if (!d.category) return ["category", "category"];
      if (!d.district_id) return ["district_id", "district_id"];
      if (d.lon === "" || d.lat === "" || !isFinite(+d.lon) || !isFinite(+d.lat)) return ["lon", "location"];
      if (+d.lon < cfg.chinaLon[0] || +d.lon > cfg.chinaLon[1] || +d.lat < cfg.chinaLat[0] || +d.lat > cfg.chinaLat[1])
        return ["lon", "location_range"];
      if (!d.planned_start) return ["planned_start", "planned_start"];
      if (!d.planned_finish) return ["planned_finish", "planned_finish"];
      if (d.planned_finish < d.planned_start) return ["planned_finish", "finish_before_start"];
      if (d.category === "building" && d.floor_area_m2 === "") return ["floor_area_m2", "floor_area_m2"];
      if (d.floor_area_m2 !== "" && !positive(d.floor_area_m2)) return ["floor_area_m2", "amount"];
      if (d.contract_value_yuan === "") return ["contract_value_yuan", "contract_value_yuan"];
      if (!positive(d.contract_value_yuan)) return ["contract_value_yuan", "amount"];
      if (!d.applicant_name) return ["applicant_name", "applicant_name"];
      if (!/^1[3-9][0-9]{9}$/.test(d.applicant_phone)) return ["applicant_phone", "applicant_phone"];
      if (!d.units.length) return ["units", "units"];
      if (d.units.length > (cfg.maxUnits || 20)) return ["units", "too_many_units"];
      var seen = {};
      for (var i = 0; i < d.units.length; i++) {
        var u = d.units[i];
        if (!u.name) return ["units." + i + ".name", "unit_name"];
        var p = usccProblem(u.uscc);
        if (p) return ["units." + i + ".uscc", p];
        if (!u.unit_type) return ["units." + i + ".unit_type", "unit_type"];
        if (seen[u.uscc + "/" + u.unit_type]) return ["units." + i + ".uscc", "unit_duplicate"];
        seen[u.uscc + "/" + u.unit_type] = true;
      }
      if (!d.units.some(function (x) { return x.unit_type === "general_contractor"; })) return ["units", "no_contractor"];
      return null;
    };

    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      clearAll();
      var data = collect();
      var problem = check(data);
      if (problem) { fieldError(problem[0], M[problem[1]] || problem[1]); return; }
      var button = $("#submit-application");
      button.disabled = true;
      send(form.dataset.method, form.dataset.action, data).then(function (body) {
        window.location.href = "/approvals/" + (body && body.id ? body.id : (a && a.id));
      }).catch(function (err) {
        button.disabled = false;
        fieldError(err.field, err.message);
      });
    });
  }

  // --- the decision (district authority) ------------------------------------------------------------------------
  var decision = $("#decision");
  if (decision) {
    var id = decision.dataset.application;
    var msg = $("#decision-msg");
    var passBtn = $("#pass-application");
    var returnForm = $("#return-form");
    passBtn.addEventListener("click", function () {
      if (!window.confirm("确认审核通过？将建立项目并发放项目账号。")) return;
      passBtn.disabled = true;
      send("POST", "/api/approvals/applications/" + id + "/pass").then(function (body) {
        $("#issued-username").textContent = body.username;
        $("#issued-password").textContent = body.password;
        $("#issued-project").href = "/projects/" + body.project_id;
        $("#issued").hidden = false;
        returnForm.hidden = true;
        passBtn.hidden = true;
        var st = $("#application-status");
        if (st) { st.textContent = "已通过"; st.className = "status a-passed"; }
      }).catch(function (err) { passBtn.disabled = false; show(msg, err.message); });
    });
    returnForm.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var reason = returnForm.elements.reason.value.trim();
      var box = returnForm.querySelector('[data-for="reason"]');
      box.textContent = "";
      if (!reason) { box.textContent = M.reason || "退回时须填写原因"; returnForm.elements.reason.focus(); return; }
      send("POST", "/api/approvals/applications/" + id + "/return", { reason: reason }).then(function () {
        window.location.reload();
      }).catch(function (err) { show(msg, err.message); });
    });
  }
})();
