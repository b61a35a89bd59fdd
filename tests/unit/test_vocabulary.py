"""Vocabulary (issue 12, item 3): every closed set of codes is a StrEnum in backend/vocabulary.py with one Chinese
label map; every code the services write into these columns is a member; the columns are wide enough and never
narrower than they were created (no migration)."""

from __future__ import annotations

import ast
import re
from enum import StrEnum
from pathlib import Path

import pytest

from backend import vocabulary as v

BACKEND = Path(__file__).resolve().parents[2] / "backend"
CJK = re.compile(r"[\u4e00-\u9fff]")


def _sources() -> list[tuple[Path, str]]:
    return [(p, p.read_text(encoding="utf-8")) for p in sorted(BACKEND.rglob("*.py"))
            if "piccolo_migrations" not in p.parts]


# --- labels ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("enum", list(v.LABELS), ids=lambda e: e.__name__)
def test_every_member_has_one_chinese_label_and_nothing_else(enum: type[StrEnum]) -> None:
    labels = v.LABELS[enum]
    assert list(labels) == list(enum), "one label per member, in declaration order (forms list them so)"
    for member in enum:
        assert member.value == member.name.rstrip("_"), member  # in_ / import_ only dodge keywords
        assert CJK.search(labels[member]), (member, labels[member])


def test_every_enum_of_the_module_is_in_the_label_registry() -> None:
    enums = {o for o in vars(v).values() if isinstance(o, type) and issubclass(o, StrEnum) and o is not StrEnum}
    assert enums == set(v.LABELS)


def test_label_looks_codes_up_by_kind_and_passes_unknown_codes_through() -> None:
    assert v.label("open", "WarningStatus") == "待通知"
    assert v.label("yellow", v.WarningLevel) == "黄灯"
    assert v.label(v.Role.admin) == "系统管理员"
    # the same string means different things in different sets
    assert v.label("rejected", "PunchVerdict") == "打卡失败"
    assert v.label("rejected", "RegistrationStatus") == "已驳回"
    assert v.label("rejected", "MakeupStatus") == "未批准"
    assert v.label("no_such_code", "Reason") == "no_such_code"
    assert v.label(None, "Reason") == "" and v.label("", "Reason") == ""
    with pytest.raises(ValueError):
        v.label("open")


def test_old_names_stay_importable_and_are_the_vocabulary_maps() -> None:
    from backend.accounts.roles import ROLES
    from backend.attendance.reasons import REASON_ZH, VERDICT_ZH
    from backend.crew.dictionaries import IMPORT_STATUS, REG_STATUS, REVIEW_KIND
    from backend.org.dictionaries import PROJECT_CATEGORY, PROJECT_STATUS, TEAM_KIND, UNIT_TYPE
    from backend.supervision.services.cases import ACTION_ZH, KIND_ZH, LEVEL_ZH, STATUS_ZH
    from backend.workforce.dictionaries import WORK_ROLE

    assert ROLES is v.ROLE_ZH and REASON_ZH is v.REASON_ZH and VERDICT_ZH is v.VERDICT_ZH
    assert REG_STATUS is v.REGISTRATION_STATUS_ZH and REVIEW_KIND is v.REVIEW_KIND_ZH
    assert IMPORT_STATUS is v.IMPORT_STATUS_ZH and WORK_ROLE is v.WORK_ROLE_ZH
    assert PROJECT_STATUS is v.PROJECT_STATUS_ZH and PROJECT_CATEGORY is v.PROJECT_CATEGORY_ZH
    assert UNIT_TYPE is v.UNIT_TYPE_ZH and TEAM_KIND is v.TEAM_KIND_ZH
    assert (KIND_ZH, LEVEL_ZH, STATUS_ZH, ACTION_ZH) == (
        v.WARNING_KIND_ZH, v.WARNING_LEVEL_ZH, v.WARNING_STATUS_ZH, v.WARNING_ACTION_ZH)


def test_the_chinese_shown_before_the_move_is_unchanged() -> None:
    """Spot checks of the texts people and tests already see (moved, not reworded)."""
    assert v.REASON_ZH["not_on_roster"] == "不在本项目花名册中（未进场或已退场）"
    # Reworded on purpose (issue 14 item 1, seed 000 §六): the detail shows 非人脸方式 and that it is not counted.
    assert v.REASON_ZH["non_face_mode"] == "非人脸方式（门禁卡、指纹等），不计入考勤"
    assert v.VERDICT_ZH["flagged"] == "打卡成功（待复核）"
    assert v.VERDICT_SHORT_ZH["flagged"] == "成功（待复核）"
    assert v.ROLE_ZH["foreman"] == "班组长/劳务员"
    assert v.PROJECT_STATUS_ZH["accepted"] == "竣工"
    assert v.WARNING_STATUS_ZH["closed"] == "已销号"
    assert v.SOURCE_ZH == {"gate": "闸机", "mobile": "手机", "makeup": "补卡"}


# --- every code the services write is a member ---------------------------------------------------------------

def test_role_sets_and_guards_name_only_roles() -> None:
    from backend.accounts.controllers import CREATABLE
    from backend.accounts.services import PROJECT_EDITORS
    from backend.crew.services import EDITOR_ROLES, FULL_ID_ROLES, REVIEWER_ROLES
    from backend.devices.controllers import SERIAL_ROLES
    from backend.devices.pages import REGISTER_ROLES, SWITCH_ROLES
    from backend.fences.services import EDITOR_ROLES as FENCE_EDITORS
    from backend.supervision.access import AUTHORITY_ROLES, READ_ROLES

    roles = set(v.Role)
    for group in (PROJECT_EDITORS, EDITOR_ROLES, FULL_ID_ROLES, REVIEWER_ROLES, SERIAL_ROLES, REGISTER_ROLES,
                  SWITCH_ROLES, FENCE_EDITORS, AUTHORITY_ROLES, READ_ROLES, *CREATABLE.values(), CREATABLE):
        assert set(group) <= roles, group


def test_no_bare_role_literal_is_compared_or_guarded_in_backend() -> None:
    """``user.role == "admin"`` and ``roles("admin")`` are written with Role: a renamed or new role is found by
    the type, not by grep."""
    role_codes = "|".join(m.value for m in v.Role)
    bare = re.compile(rf'(\.role|\brole)\s*(==|!=)\s*"({role_codes})"|\broles\([^)]*"({role_codes})"'
                      rf'|\.role\s+(not\s+)?in\s+\([^)]*"({role_codes})"')
    found = [f"{p.relative_to(BACKEND)}:{n}: {line.strip()}" for p, text in _sources()
             for n, line in enumerate(text.splitlines(), 1) if bare.search(line) and "work_role" not in line]
    assert not found, "\n".join(found)


def _appended_codes(*lists: str) -> set[str]:
    """String constants appended to a list named one of ``lists`` (``reasons.append("x")``) in backend, outside
    backend/face (whose quality and liveness codes are a catalogue of their own, backend/face/messages.py, with
    parameterised codes like ``action_missing:blink``; a punch records them as ``liveness_failed``)."""
    out: set[str] = set()
    for path, text in _sources():
        if "face" in path.relative_to(BACKEND).parts:
            continue
        for node in ast.walk(ast.parse(text)):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "append"
                    and isinstance(node.func.value, ast.Name) and node.func.value.id in lists):
                out |= {a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)}
    return out


def _keyword_literals(name: str) -> set[str]:
    """String constants (or tuples of them) passed as ``name=...`` to any call in backend."""
    out: set[str] = set()
    for _, text in _sources():
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Call):
                for kw in node.keywords:
                    if kw.arg != name:
                        continue
                    values = kw.value.elts if isinstance(kw.value, ast.Tuple) else [kw.value]
                    if isinstance(kw.value, ast.IfExp):
                        values = [kw.value.body, kw.value.orelse]
                        values = [e for x in values for e in (x.elts if isinstance(x, ast.Tuple) else [x])]
                    out |= {x.value for x in values if isinstance(x, ast.Constant) and isinstance(x.value, str)}
    return out


def test_reason_and_flag_codes_written_by_any_source_are_members() -> None:
    import geofence

    written = _appended_codes("reasons", "flags")
    assert written <= set(v.Reason), written - set(v.Reason)
    assert (_keyword_literals("reasons") | _keyword_literals("flags")) <= set(v.Reason)
    fence_codes = set(geofence.REASON_ZH) - {"accepted"}  # the fence library's own codes end up in Punch.reasons
    assert fence_codes <= set(v.Reason), fence_codes - set(v.Reason)


def test_punch_sources_and_verdicts_written_are_members() -> None:
    from backend.attendance.services import SOURCES
    from backend.rules import DEFAULT_RULES

    assert set(SOURCES) == set(v.Source)
    sources = _keyword_literals("source")
    assert sources <= set(v.Source) | set(v.EnrolmentSource), sources
    assert DEFAULT_RULES.max_latency_s(v.Source.makeup) is None
    assert all(DEFAULT_RULES.max_latency_s(s) is not None for s in (v.Source.gate, v.Source.mobile))


def test_status_sets_of_the_services_are_members() -> None:
    from backend.clockin.services import MAKEUP_DIRECTIONS, MAKEUP_REASONS
    from backend.crew.dictionaries import OPEN_STATUSES, REVIEW_STATUSES
    from backend.org.dictionaries import MANAGEMENT_TEAM_NAME, STATUS_TRANSITIONS
    from backend.supervision.services.cases import _ACTION_EVENT, _ACTIONS, MONTHLY_KINDS, OPEN_STATES

    assert set(STATUS_TRANSITIONS) == set(v.ProjectStatus)
    assert set().union(*STATUS_TRANSITIONS.values()) <= set(v.ProjectStatus)
    assert set(MANAGEMENT_TEAM_NAME) == set(v.UnitType)
    assert OPEN_STATUSES | REVIEW_STATUSES <= set(v.RegistrationStatus)
    assert set(MAKEUP_REASONS) == set(v.MakeupReason) and MAKEUP_DIRECTIONS == set(v.Direction)
    assert MONTHLY_KINDS <= set(v.WarningKind) and set(OPEN_STATES) <= set(v.WarningStatus)
    for applies_to, result in _ACTIONS.values():
        assert set(applies_to) | {result} <= set(v.WarningStatus)
    assert set(_ACTION_EVENT.values()) <= set(v.WarningAction)


def test_alarm_and_fence_kinds_written_are_members() -> None:
    import geofence
    from backend.devices.services import ALARM_KINDS
    from backend.fences.services import KINDS

    assert ALARM_KINDS is v.ALARM_KIND_ZH and KINDS is v.FENCE_KIND_ZH
    alarms = {c for _, text in _sources() for c in re.findall(r'_alarm\(\s*"([a-z_]+)"', text)}
    alarms |= {c for _, text in _sources() for c in re.findall(r'record_alarm\(\s*"([a-z_]+)"', text)}
    assert alarms <= set(v.AlarmKind), alarms - set(v.AlarmKind)
    assert {k.value for k in geofence.FenceKind} == set(v.FenceKind)


def _columns() -> list[tuple[object, type[StrEnum], int]]:
    """(column, its enum, its width in the database as the migrations made it)."""
    from backend.accounts.tables import User
    from backend.attendance.tables import Punch
    from backend.clockin.tables import MakeupRequest
    from backend.crew.tables import IdAccessLog, ImportJob, Registration
    from backend.devices.tables import Terminal, TerminalAlarm
    from backend.fences.tables import ProjectFence
    from backend.org.tables import Project, ProjectChangeRequest, ProjectStatusChange, ProjectUnit, Team
    from backend.supervision.tables import SmsLog, WarningCase, WarningEvent
    from backend.workforce.tables import Enrolment, RosterEntry

    return [
        (User.role, v.Role, 16), (IdAccessLog.role, v.Role, 16),
        (Punch.source, v.Source, 8), (Punch.verdict, v.PunchVerdict, 10), (Punch.direction, v.Direction, 4),
        (MakeupRequest.direction, v.Direction, 4), (Terminal.direction, v.Direction, 4),
        (MakeupRequest.reason, v.MakeupReason, 32), (MakeupRequest.status, v.MakeupStatus, 10),
        (Registration.status, v.RegistrationStatus, 24), (Registration.review_kind, v.ReviewKind, 16),
        (ImportJob.status, v.ImportStatus, 12),
        (Project.status, v.ProjectStatus, 24), (Project.category, v.ProjectCategory, 16),
        (ProjectStatusChange.from_status, v.ProjectStatus, 24), (ProjectStatusChange.to_status, v.ProjectStatus, 24),
        (ProjectUnit.unit_type, v.UnitType, 32), (Team.kind, v.TeamKind, 16),
        (ProjectChangeRequest.kind, v.ChangeKind, 16), (ProjectChangeRequest.status, v.ChangeRequestStatus, 16),
        (RosterEntry.work_role, v.WorkRole, 8), (Enrolment.source, v.EnrolmentSource, 16),
        (WarningCase.kind, v.WarningKind, 24), (WarningCase.level, v.WarningLevel, 8),
        (WarningCase.status, v.WarningStatus, 12), (WarningEvent.action, v.WarningAction, 16),
        (WarningEvent.level, v.WarningLevel, 8), (WarningEvent.status, v.WarningStatus, 12),
        (SmsLog.status, v.SmsStatus, 8), (TerminalAlarm.kind, v.AlarmKind, 24), (ProjectFence.kind, v.FenceKind, 10),
    ]


def test_columns_fit_every_code_and_never_shrink() -> None:
    for column, enum, created in _columns():
        name = f"{column._meta.table._meta.tablename}.{column._meta.name}"  # type: ignore[attr-defined]
        assert column.length == v.width(enum, created), name  # type: ignore[attr-defined]
        assert column.length >= created, f"{name} would shrink: a migration that loses data"  # type: ignore[attr-defined]
        assert all(len(m.value) <= column.length for m in enum), name  # type: ignore[attr-defined]
        assert column.length == created, (  # type: ignore[attr-defined]
            f"{name}: a code longer than the column needs a new migration that widens it; then raise the width here")
        default = column._meta.params.get("default")  # type: ignore[attr-defined]
        if isinstance(default, str) and default:
            assert default in set(enum), (name, default)


def test_width_takes_the_longest_code_but_never_less_than_the_floor() -> None:
    class Two(StrEnum):
        a = "a"
        long_code = "long_code"

    assert v.width(Two, 4) == 9
    assert v.width(Two, 16) == 16


# --- templates ---------------------------------------------------------------------------------------------------

TEMPLATES = BACKEND.parent / "pwa" / "templates"
CODE_FIELDS = ("status", "level", "kind", "verdict", "source", "role", "direction", "action", "work_role", "unit_type",
               "category", "review_kind", "reason")


def test_templates_show_codes_through_the_label_filter_never_raw() -> None:
    """A code printed as text (``<td>{{ e.status }}</td>``) shows "open" to a person; ``|label("WarningStatus")``
    or a ``*_label`` field shows 待通知.  (Codes in attributes — CSS classes, data-* — are fine.)"""
    raw = re.compile(r">\s*\{\{\s*[a-z_]+\.(" + "|".join(CODE_FIELDS) + r")\s*\}\}\s*<")
    found = [f"{p.relative_to(TEMPLATES)}: {m.group(0)}" for p in sorted(TEMPLATES.rglob("*.html"))
             for m in raw.finditer(p.read_text(encoding="utf-8"))]
    assert not found, found


def test_the_label_filter_is_registered_for_templates() -> None:
    from jinja2 import Environment
    from litestar.plugins.jinja import JinjaTemplateEngine

    from backend.app import template_helpers

    engine = JinjaTemplateEngine.from_environment(Environment(autoescape=True))
    template_helpers(engine)
    text = engine.engine.from_string('{{ s|label("WarningStatus") }} {{ label(l, "WarningLevel") }} {{ d|label("Direction") }}')
    assert text.render(s="open", l="yellow", d="out") == "待通知 黄灯 出"


def test_the_local_time_filter_shows_stored_utc_times_in_the_projects_zone() -> None:
    from datetime import UTC, datetime

    from jinja2 import Environment
    from litestar.plugins.jinja import JinjaTemplateEngine

    from backend.app import template_helpers

    engine = JinjaTemplateEngine.from_environment(Environment(autoescape=True))
    template_helpers(engine)
    text = engine.engine.from_string("{{ a|local_time }}|{{ b|local_time }}|{{ n|local_time }}")
    assert text.render(a=datetime(2026, 3, 1, 16, 5, tzinfo=UTC), b=datetime(2026, 3, 1, 1, 0), n=None) == (
        "2026-03-02 00:05|2026-03-01 09:00|"
    )


def test_the_local_time_filter_takes_the_zone_of_the_pages_project() -> None:
    from datetime import UTC, datetime

    from jinja2 import Environment
    from litestar.plugins.jinja import JinjaTemplateEngine

    from backend.app import template_helpers

    engine = JinjaTemplateEngine.from_environment(Environment(autoescape=True))
    template_helpers(engine)
    at = datetime(2026, 3, 1, 16, 5, tzinfo=UTC)
    text = engine.engine.from_string("{{ a|local_time }}")
    # a project in Ürümqi (UTC+6) shows its own local time, not Beijing's
    assert text.render(a=at, project={"timezone": "Asia/Urumqi"}) == "2026-03-01 22:05"
    assert text.render(a=at, tz="Asia/Urumqi", project={"timezone": "Asia/Shanghai"}) == "2026-03-01 22:05"
    assert text.render(a=at, project={"name": "无时区"}) == "2026-03-02 00:05"
    assert engine.engine.from_string('{{ a|local_time("%H:%M", "UTC") }}').render(
        a=at, project={"timezone": "Asia/Urumqi"}) == "16:05"
