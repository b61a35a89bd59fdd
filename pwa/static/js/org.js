// Lifecycle pages (change requests, units and teams, make-up queue): the same checks as the server, with the
// same Chinese messages, before a form is sent.  The server checks everything again.
(function () {
  "use strict";

  var USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY";
  var USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
  var MAX_EVIDENCE = 5 * 1024 * 1024;

  function usccProblem(raw) {
    var code = (raw || "").trim().toUpperCase();
    if (code.length !== 18 || code.split("").some(function (c) { return USCC_CHARS.indexOf(c) < 0; })) {
      return "统一社会信用代码必须是 18 位（数字或除 I、O、Z、S、V 以外的大写字母）";
    }
    var total = 0;
    for (var i = 0; i < 17; i++) total += USCC_CHARS.indexOf(code[i]) * USCC_WEIGHTS[i];
    if (USCC_CHARS[(31 - total % 31) % 31] !== code[17]) return "统一社会信用代码校验位错误";
    return null;
  }

  function addMonths(iso, months) {
    var p = iso.split("-").map(Number);
    var y = p[0], m = p[1] - 1 + months, d = p[2];
    y += Math.floor(m / 12); m = m % 12;
    var last = new Date(Date.UTC(y, m + 1, 0)).getUTCDate();
    var dd = Math.min(d, last);
    return y + "-" + String(m + 1).padStart(2, "0") + "-" + String(dd).padStart(2, "0");
  }

  function val(form, name) { var el = form.elements[name]; return el ? (el.value || "").trim() : ""; }

  var checks = {
    change: function (form) {
      var kind = val(form, "kind");
      if (!kind) return ["kind", "请选择申请类型"];
      var today = form.dataset.today;
      if (kind === "planned_start") {
        var target = val(form, "target");
        if (!target) return ["target", "请填写新的拟开工日期"];
        if (target < today) {
          return ["target", "生效日期（" + target + "）不能早于申请当日（" + today + "）：变更须经审批后生效，不能倒签"];
        }
        var current = form.dataset.currentStart;
        if (current && target === current) return ["target", "拟开工日期未变化"];
        if (current && target > current) {
          var months = Number(form.dataset.maxMonths), latest = addMonths(current, months);
          if (target > latest) {
            return ["target", "开工日期每次延期不超过 " + months + " 个月（原拟开工日期 " + current + "，最迟可延至 " + latest + "）"];
          }
          var count = Number(form.dataset.extensions), max = Number(form.dataset.maxCount);
          if (count >= max) return ["target", "开工日期延期以 " + max + " 次为限，本项目已延期或申请延期 " + count + " 次"];
        }
      } else {
        var eff = val(form, "effective_on");
        if (eff && eff < today) {
          return ["effective_on", "生效日期（" + eff + "）不能早于申请当日（" + today + "）：变更须经审批后生效，不能倒签"];
        }
      }
      if (!val(form, "reason")) return ["reason", "请填写申请理由"];
      var file = form.elements.evidence && form.elements.evidence.files[0];
      if (!file) return ["evidence", "请上传证明材料（JPG、PNG 或 PDF，不超过 5 MB）"];
      if (file.size > MAX_EVIDENCE) return ["evidence", "证明材料不能超过 5 MB"];
      if (["image/jpeg", "image/png", "application/pdf"].indexOf(file.type) < 0) {
        return ["evidence", "证明材料须为 JPG、PNG 或 PDF 文件（按文件内容识别）"];
      }
      return null;
    },
    unit: function (form) {
      if (!val(form, "unit_type")) return ["unit_type", "请选择参建单位类型"];
      var p = usccProblem(val(form, "uscc"));
      return p ? ["uscc", p] : null;
    },
    team: function (form) {
      if (!val(form, "unit_id")) return ["unit_id", "请选择所属参建单位"];
      if (!val(form, "name")) return ["name", "请填写班组名称"];
      var acct = form.elements.foreman_account;
      if (acct && acct.checked && !val(form, "leader")) return ["foreman_account", "开通班组长账号须先选择班组长"];
      return null;
    },
    decide: function (form, submitter) {
      if (submitter && submitter.value === "reject" && !val(form, "note")) return ["note", "驳回时须填写理由"];
      return null;
    },
    makeups: function (form, submitter) {
      var picked = form.querySelectorAll("input[name=ids]:checked");
      if (!picked.length) return ["ids", "请至少选择一条补卡申请"];
      var keys = {};
      picked.forEach(function (el) { keys[el.dataset.group] = true; });
      if (Object.keys(keys).length > 1) return ["ids", "批量审批只能选择同一项目、同一天的补卡申请"];
      if (submitter && submitter.value === "reject" && !val(form, "note")) return ["note", "驳回时须填写理由"];
      return null;
    }
  };

  function show(form, field, text) {
    var box = form.querySelector(".msg");
    form.querySelectorAll(".invalid").forEach(function (el) { el.classList.remove("invalid"); });
    var el = form.elements[field];
    if (el && el.classList) el.classList.add("invalid");
    if (box) {
      box.innerHTML = "";
      var div = document.createElement("div");
      div.className = "error";
      div.setAttribute("role", "alert");
      div.textContent = text;
      box.appendChild(div);
    }
  }

  document.addEventListener("submit", function (e) {
    var form = e.target;
    var check = checks[form.dataset && form.dataset.validate];
    if (check) {
      var problem = check(form, e.submitter);
      if (problem) { e.preventDefault(); show(form, problem[0], problem[1]); return; }
    }
    if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) e.preventDefault();
  });

  // The change form shows the fields of the chosen kind only.
  function toggle(form) {
    var kind = val(form, "kind");
    var dated = form.querySelector(".for-planned-start"), status = form.querySelector(".for-status");
    if (dated) dated.hidden = kind !== "planned_start";
    if (status) status.hidden = kind === "planned_start" || !kind;
  }
  document.addEventListener("change", function (e) {
    if (e.target.name === "kind" && e.target.form && e.target.form.id === "change-form") toggle(e.target.form);
    if (e.target.id === "pick-all") {
      document.querySelectorAll("input[name=ids]:not(:disabled)").forEach(function (el) { el.checked = e.target.checked; });
    }
  });
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("change-form");
    if (form) toggle(form);
  });
})();
