"""Where each rule of ``backend.rules.Rules`` comes from and what applies it — the source of docs/rules.md.

``RULE_DOCS`` holds, per field: the seed clause (or "our choice"), our reading where the seed text is open, and
the code that applies the number.  The value columns of the table come from ``backend.rules.PROFILES``, so the
document cannot drift from the code: ``scripts/rules_table.py`` prints the table and a unit test compares it
with the block between the markers in docs/rules.md.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from backend.rules import PROFILE_CLAUSES, PROFILE_LABELS, PROFILE_SEEDS, PROFILES, Rules

TABLE_START = "<!-- rules-table:start -->"
TABLE_END = "<!-- rules-table:end -->"


@dataclass(frozen=True, slots=True)
class RuleDoc:
    clause: str  # seed NNN §… (the baseline's source), or "our choice"
    applied_by: str  # the function / module that reads the number
    reading: str = ""  # our reading where the seed text is ambiguous or silent


OURS = "our choice"
NOT_READ = "— (not read by code yet)"

RULE_DOCS: dict[str, RuleDoc] = {
    "profile": RuleDoc("—", "`org.services.rules_for_district`",
                       "the profile that judged; chosen per district (`district.rule_profile`)"),
    # key managers
    "manager_valid_days_ratio": RuleDoc("seed 000 §五", "`supervision.services.managers`, `warnings`",
                                        "seeds 001/002/004 give no ratio: inherited"),
    "manager_composite_on_duty_ratio": RuleDoc("seed 000 §五", "`supervision.metrics.composite`, `warnings`",
                                               "seeds 001/002/004 give no ratio: inherited"),
    "manager_start_base": RuleDoc("seed 004 §四(一)", "`Rules.manager_counting_start`",
                                  "seed 001 §二(一) 实名制应用开始时间为项目实际开工时间 read as the managers' start "
                                  "too; seed 000 §五 本月施工时间 = every day under construction (no grace); seed 002 "
                                  "has no manager rule: inherited. No planned start recorded → the actual start "
                                  "stands in"),
    "manager_attendance_start_offset_days": RuleDoc("seed 004 §四(一)", "`Rules.manager_counting_start`",
                                                    "拟开工日期起 10 天后: the 10 days after the planned start (民法典 §201), "
                                                    "counted from planned start + 11"),
    "valid_day_min_punches": RuleDoc("seed 001 §2.11.1", "`supervision.metrics`, `services.counts`",
                                     "a day with a record is marked √: 1 accepted punch"),
    # warnings
    "warning_red_after_days": RuleDoc("seed 000 §三", "`Rules.red_on`, `Rules.rectify_by`",
                                      "5 日内: the 5 days after the opening day (民法典 §201); red the day after"),
    "late_upload_counts_as_valid": RuleDoc("seed 000 §五 + 附件3 §三.4", "`supervision.services.counts`",
                                           "a late record is still an uploaded record (kept and flagged)"),
    "no_attendance_warning_days": RuleDoc("seed 000 §三", "`supervision.services.warnings`",
                                          "our choice of 1 day (statistics are daily, seed 001 §2.11.3)"),
    # wages
    "wage_payroll_deadline_day": RuleDoc("seed 000 §七", "`wages.reconcile`",
                                         "按月及时录入: no day given; our choice — by the 10th of the next month"),
    "wage_pay_day": RuleDoc("seed 000 §七 + 《保障农民工工资支付条例》 §12", "`wages.reconcile`",
                            "按月足额支付: no day given; the district's pay day, our default the 15th of the next "
                            "month; a later bank payment is 逾期发放"),
    "wage_min_valid_days": RuleDoc("seed 000 §七", "`wages.reconcile`",
                                   "与考勤信息保持一致: our choice — one valid day puts a worker on the month's payroll"),
    "wage_import_max_bytes": RuleDoc(OURS, "`wages.services`", "payroll import and bank result file"),
    "wage_import_max_rows": RuleDoc(OURS, "`wages.xlsx`", "payroll import and bank result file"),
    "wage_voucher_max_bytes": RuleDoc(OURS, "`wages.services`", "工资保证金缴纳凭证 (seed 000 §三)"),
    # latency
    "mobile_max_latency_s": RuleDoc("seed 000 附件3 §三.4", "`Rules.max_latency_s`",
                                    "seeds 001/002/004 give no phone limit: inherited"),
    "gate_max_latency_s": RuleDoc("seed 002 附件1 §二(17), §三(12)", "`Rules.max_latency_s`",
                                  "seeds 000/001/004 give no gate upload limit (seed 000 附件3 §一.2 ≤ 3 s is "
                                  "recognition speed, not upload): inherited"),
    # devices
    "retention_years": RuleDoc("seed 002 §三(二)2; seed 004 §三(五)", "`privacy.retention.run_retention` (`smz retention`)",
                               "工程竣工后2年 / 竣工验收后保存2年以上: the clock starts at 竣工 (status accepted); due "
                               "the day after the anniversary (Feb 29 → Feb 28); faces, templates, punch photos, ID "
                               "scans deleted; attendance and wage facts kept"),
    "ledger_retention_years": RuleDoc("《保障农民工工资支付条例》第二十八条 (cited by seeds 000, 002)",
                                      "`privacy.retention.run_retention` (`smz retention`)",
                                      "用工管理台账保存至工程完工且工资全部结清后至少3年: ID and bank card numbers are "
                                      "masked only after this many years from 竣工 and once the payrolls owe nothing"),
    "device_outage_max_days": RuleDoc("seed 001 §六(十八)", "`devices.services`, `supervision.services.warnings`"),
    "qualified_people_uploaded_share": RuleDoc("seed 001 §2.3 项目合格规则 3", "`platform.services.upload_qualification`",
                                               "at least this share of the people on the roster 上传成功, rounded up"),
    "terminal_storage_min_days": RuleDoc("seed 002 附件1 §二(18), §三(10)", NOT_READ),
    "gate_punch_photo_max_bytes": RuleDoc("seed 001 附件3 §1.2.4 (848)", "`device_tcp.messages`, `devices.gate`"),
    "gate_id_photo_max_bytes": RuleDoc("seed 001 附件3 §1.2.6 (852)", "`device_tcp.messages`, `devices.gate`"),
    "terminal_max_false_accept_rate": RuleDoc("seed 001 附件4 §3, seed 002 附件1 §二(10)", NOT_READ),
    "gate_channel_area_m2": RuleDoc("seed 002 §三(一)2",
                                    "`Rules.required_gate_channels`, `onboarding.rules_calc.channels_required`",
                                    "exactly 30,000 m² is 'not more than': 1 channel"),
    "municipal_min_channels": RuleDoc("seed 002 §三(一)2", "`Rules.required_gate_channels`"),
    # device upkeep (issue 20; backend/upkeep)
    "repair_max_hours": RuleDoc("seed 002 §五.4", "`upkeep.deadlines.repair_due`, `upkeep.services`",
                                "接到报障后 24 小时内修复完成: counted from the moment the ticket opened (fault detected "
                                "or reported); a ticket still open then escalates to the district"),
    "removal_notice_min_working_days": RuleDoc("seed 002 §四.5", "`upkeep.deadlines.removal_notice_on_time`",
                                               "提前3个工作日: the removal day must be on or after the 3rd working day "
                                               "after the filing day (filing day not counted; 调休 days count). A late "
                                               "notice is accepted and recorded as a finding, not refused"),
    "removal_acceptance_working_days": RuleDoc("seed 002 §四.5", "`upkeep.deadlines.acceptance_due`",
                                               "在1个工作日内: by the end of the first working day after the removal"),
    "fault_offline_minutes": RuleDoc("seed 002 §五.1 (no number)", "`upkeep.faults`", "our number"),
    "fault_heartbeat_gap_minutes": RuleDoc("seed 002 §五.1 (no number)", "`upkeep.faults`",
                                           "our number: recorded online, no sign of life"),
    "fault_window_minutes": RuleDoc("seed 002 §五.1 (no number)", "`upkeep.faults`", "our number"),
    "fault_punch_failures": RuleDoc("seed 002 §五.1 (no number)", "`upkeep.faults`",
                                    "our number: rejected gate punches of one terminal within the window"),
    "fault_gate_alarms": RuleDoc("seed 002 §五.1 (no number)", "`upkeep.faults`",
                                 "our number: gate alarms (refused logins) of one terminal within the window"),
    "fault_clock_drift_s": RuleDoc("seed 002 §五.1 (no number)", "`upkeep.faults`",
                                   "our number (as `clock_skew_max_s`): capture time ahead of the server, or every "
                                   "punch of the window behind by more"),
    "fault_clock_min_punches": RuleDoc("seed 002 §五.1 (no number)", "`upkeep.faults`", "our number"),
    # scope
    "scope_rule": RuleDoc("seed 004 §二(一)", "`Rules.in_scope`, `Rules.scope_label`",
                          "all_permitted: a registered project went through 报建 approval, so every building and "
                          "municipal project is covered, whatever its size"),
    "scope_min_floor_area_m2": RuleDoc("seed 004 §二(一)", "`Rules.in_scope` (size_threshold only)", "含本数: ≥"),
    "scope_min_contract_value_yuan": RuleDoc("seed 004 §二(一)", "`Rules.in_scope` (size_threshold only)",
                                             "含本数: ≥"),
    "start_date_extension_max_months": RuleDoc("seed 004 §三(八)1", "project start-date changes (org)",
                                               "quotes 施工许可管理办法 §8: 每次不超过三个月"),
    "start_date_extension_max_count": RuleDoc("seed 004 §三(八)1", "project start-date changes (org)",
                                              "延期以两次为限"),
    # face capture
    "face_image_width": RuleDoc("seed 002 附件1 §一.2(1)", NOT_READ),
    "face_image_height": RuleDoc("seed 002 附件1 §一.2(1)", NOT_READ),
    "face_min_eye_distance_px": RuleDoc("seed 002 附件1 §一.2(1)", "`face.engine.QualityLimits`"),
    "face_min_size_px": RuleDoc("seed 002 附件1 §一.2(1)", "`face.engine.QualityLimits`"),
    "face_max_size_px": RuleDoc("seed 002 附件1 §一.2(1)", "`face.engine.QualityLimits`"),
    "face_max_roll_deg": RuleDoc("seed 002 附件1 §一.2(2)", "`face.engine.QualityLimits`"),
    "face_min_border_px": RuleDoc("seed 002 附件1 §一.2(3)", "`face.engine.QualityLimits`"),
    "face_max_yaw_deg": RuleDoc("seed 002 附件1 §一.2(2)", "`face.engine.QualityLimits`",
                                "正面人脸 / 旋转角度 read as yaw as well as roll"),
    "face_verify_min_eye_distance_px": RuleDoc(OURS, "`face.engine.QualityLimits`", "half the enrolment size"),
    "face_verify_min_size_px": RuleDoc(OURS, "`face.engine.QualityLimits`", "half the enrolment size"),
    "face_verify_min_border_px": RuleDoc(OURS, "`face.engine.QualityLimits`", "half the enrolment size"),
    "face_match_tolerance": RuleDoc(OURS, "`face.service`", "docs/face.md"),
    "face_duplicate_tolerance": RuleDoc(OURS, "`face.service`, `crew.enrolment`"),
    "face_min_brightness": RuleDoc("seed 002 附件1 §一.2(3) (面部光照均匀)", "`face.engine`", "our number"),
    "face_backlight_ratio": RuleDoc("seed 002 附件1 §一.2(3)", "`face.engine`", "our number"),
    "face_min_sharpness": RuleDoc(OURS, "`face.engine`"),
    # liveness and uploads
    "liveness_challenge_ttl_s": RuleDoc("seed 000 附件3 §三.3 (活体检测)", "`face.liveness`", "our number"),
    "liveness_action_count": RuleDoc("seed 000 附件3 §三.3", "`clockin.services`", "our number"),
    "liveness_max_frames": RuleDoc(OURS, "`clockin.services`, `face.service`"),
    "mobile_max_upload_bytes": RuleDoc(OURS, "`clockin.services`, `face.engine`"),
    "mobile_max_frame_bytes": RuleDoc(OURS, "`clockin.services`, `face.service`"),
    "max_image_pixels": RuleDoc(OURS, "`face.engine`"),
    # fence
    "gps_max_accuracy_m": RuleDoc(OURS, "`fences.services.judge` → `geofence.decide`"),
    "fence_edge_margin_m": RuleDoc(OURS, "`fences.services.judge` → `geofence.decide`"),
    "clock_skew_max_s": RuleDoc(OURS, "`geofence.clock_skewed` (fence judge and attendance path)",
                                "without a device send time only a clock ahead of the server counts"),
    "max_travel_speed_kmh": RuleDoc(OURS, "`geofence.spoof_signals`"),
    "spoof_history_hours": RuleDoc(OURS, "`fences.services.judge`"),
    "spoof_history_fixes": RuleDoc(OURS, "`fences.services.judge`"),
    # people
    "worker_min_age": RuleDoc("劳动法 §15 (not in the seeds)", "`workforce.services`"),
    "age_notice_enabled": RuleDoc("local practice (not in the seeds)", "`workforce.services`, `crew`",
                                  "a notice on registration, never a refusal; off by default"),
    "age_notice_male": RuleDoc("local practice (not in the seeds)", "`workforce.services`, `crew`"),
    "age_notice_female": RuleDoc("local practice (not in the seeds)", "`workforce.services`, `crew`"),
    "contract_grace_days": RuleDoc("seed 001 §五(十一)", "`crew.services.contracts` (gate whitelist)",
                                   "no contract in force → off the whitelist; grace days after entry, 0 = none"),
    # crew registration and imports
    "crew_document_max_bytes": RuleDoc(OURS, "`crew.services`"),
    "crew_import_max_bytes": RuleDoc(OURS, "`crew.services.imports`"),
    "crew_import_max_rows": RuleDoc(OURS, "`crew.xlsx`"),
    "crew_import_max_unpacked_bytes": RuleDoc(OURS, "`crew.xlsx` (security)"),
    "upload_max_compression_ratio": RuleDoc(OURS, "`backend.bounded` (security)"),
    "upload_max_zip_members": RuleDoc(OURS, "`backend.bounded` (security)"),
    "crew_import_max_sheet_rows": RuleDoc(OURS, "`crew.xlsx` (security)"),
    "crew_import_max_columns": RuleDoc(OURS, "`crew.xlsx` (security)"),
    "crew_import_max_seconds": RuleDoc(OURS, "`crew.services.imports` (security)"),
    "fence_import_max_bytes": RuleDoc(OURS, "`fences.services.imports`"),
    "fence_import_max_unpacked_bytes": RuleDoc(OURS, "`fences.upload` (security)"),
    "fence_import_max_features": RuleDoc(OURS, "`fences.upload` (security)"),
    "fence_import_max_feature_vertices": RuleDoc(OURS, "`fences.upload` (security)"),
    "fence_import_max_vertices": RuleDoc(OURS, "`fences.upload` (security)"),
    "fence_import_max_seconds": RuleDoc(OURS, "`fences.services.imports` (security)"),
    "fence_rejudge_max_days": RuleDoc(OURS, "`fences.services.rejudge`"),
}


# A field added to Rules without an entry above: shown as such (tests/unit/test_rules_profiles.py fails on it).
UNDOCUMENTED = RuleDoc("(see backend/rules.py)", "(not documented yet)")


def clause_for(rule: str, profile: str) -> str:
    """The clause a profile's value of ``rule`` comes from: the profile's own where it differs, else the
    baseline's (an inherited value)."""
    return PROFILE_CLAUSES.get(profile, {}).get(rule) or RULE_DOCS.get(rule, UNDOCUMENTED).clause


def _cell(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{int(value):,}" if value.is_integer() and abs(value) >= 10_000 else f"{value:g}"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    return str(value)


def profiles_table_markdown() -> str:
    """The rule profiles: name, Chinese label, seed, and what the values differing between them say."""
    head = ["profile", "label", "seed", "scope", "managers counted", "upload limits"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, r in PROFILES.items():
        lines.append("| " + " | ".join([f"`{name}`", PROFILE_LABELS[name], PROFILE_SEEDS[name], r.scope_label(),
                                        r.manager_start_label(), r.latency_label()]) + " |")
    return "\n".join(lines) + "\n"


def rules_table_markdown() -> str:
    """The profiles table, then the table of every rule: name, clause, reading, value per profile (bold where it
    differs from the baseline, with that profile's clause), and what applies it."""
    names = list(PROFILES)
    head = ["rule", "seed + clause", "our reading", *names, "applied by"]
    lines = [profiles_table_markdown(), "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    base = PROFILES[names[0]]
    for f in fields(Rules):
        if f.name == "profile":
            continue
        doc = RULE_DOCS.get(f.name, UNDOCUMENTED)
        cells = []
        for name in names:
            value = getattr(PROFILES[name], f.name)
            if name != names[0] and value != getattr(base, f.name):
                cells.append(f"**{_cell(value)}** ({clause_for(f.name, name)})")
            else:
                cells.append(_cell(value))
        row = [f"`{f.name}`", doc.clause, doc.reading.replace("|", "/"), *cells, doc.applied_by]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def doc_table_block(text: str) -> str:
    """The part of docs/rules.md between the table markers (without them)."""
    start, end = text.index(TABLE_START) + len(TABLE_START), text.index(TABLE_END)
    return text[start:end].strip("\n") + "\n"
