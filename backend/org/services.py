"""Districts, enterprises, projects (with status history), units and teams.  All SQL of the domain."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from piccolo.columns.combination import WhereRaw

from backend.db import write_transaction
from backend.errors import Conflict, Forbidden, NotFound, invalid
from backend.org.dictionaries import (
    MANAGEMENT_TEAM_NAME,
    PROJECT_CATEGORY,
    PROJECT_STATUS,
    STATUS_TRANSITIONS,
    TEAM_KIND,
    UNIT_TYPE,
)
from backend.org.tables import (
    District,
    Enterprise,
    Project,
    ProjectChangeEvidence,
    ProjectChangeRequest,
    ProjectStatusChange,
    ProjectUnit,
    Team,
)
from backend.outbox import enqueue
from backend.rules import (
    BASELINE,
    PROFILE_SEEDS,
    PROFILES,
    Rules,
    check_profile,
    profile_label,
    rules_for,
)
from backend.validators import clean_text, parse_phone, parse_uscc
from backend.vocabulary import (
    CHANGE_FORM_KIND_ZH,
    CHANGE_KIND_ZH,
    CHANGE_REQUEST_STATUS_ZH,
    DEFAULT_TZ,
    LEVEL1_HOLDER_ZH,
    ChangeKind,
    ChangeRequestStatus,
    Level1Holder,
    ProjectStatus,
    Role,
    TeamKind,
    UnitType,
    local_today,
)

# --- Districts and their rules -----------------------------------------------------------


async def create_district(code: str, name: str, rule_overrides: dict[str, Any] | None = None,
                          rule_profile: str = BASELINE) -> int:
    if not code.strip().isdigit() or not 6 <= len(code.strip()) <= 12:
        raise invalid("code", "区县代码应为 6–12 位数字", "District code must be 6–12 digits")
    name = clean_text(name, "name", "区县名称", max_len=64, required=True) or ""
    rules_for(rule_profile, rule_overrides)  # validates the profile name and the overrides, before anything is stored
    if await District.exists().where(District.code == code.strip()):
        raise Conflict("区县代码已存在", "District code already exists", field="code")
    d = District(code=code.strip(), name=name.strip(), rule_profile=rule_profile, rule_overrides=rule_overrides or {})
    await d.save()
    return d.id


async def set_rule_overrides(district_id: int, overrides: dict[str, Any]) -> Rules:
    row = await District.select(District.rule_profile).where(District.id == district_id).first()
    if row is None:
        raise NotFound("区县不存在", "District not found", field="district_id")
    rules = rules_for(row["rule_profile"], overrides)
    n = await District.update({District.rule_overrides: overrides}).where(District.id == district_id).returning(
        District.id
    )
    if not n:
        raise NotFound("区县不存在", "District not found", field="district_id")
    return rules


async def set_rule_profile(district_id: int, profile: str) -> Rules:
    """Choose the rule profile that judges the district's projects; its overrides stay and must still apply.
    An unknown profile (or overrides the profile refuses) is a 400 and nothing is stored."""
    check_profile(profile)
    row = await District.select(District.rule_overrides).where(District.id == district_id).first()
    if row is None:
        raise NotFound("区县不存在", "District not found", field="district_id")
    rules = rules_for(profile, _json(row["rule_overrides"]))
    await District.update({District.rule_profile: profile}).where(District.id == district_id)
    return rules


def rule_profiles() -> list[dict[str, Any]]:
    """Every rule profile with its label, seed and the Chinese summary of what differs between profiles."""
    return [
        {"name": name, "label": profile_label(name), "seed": PROFILE_SEEDS[name], "scope_label": r.scope_label(),
         "manager_start_label": r.manager_start_label(), "latency_label": r.latency_label()}
        for name, r in PROFILES.items()
    ]


def _json(value: Any) -> dict[str, Any]:
    import json

    if isinstance(value, str):
        return json.loads(value or "{}")
    return dict(value or {})


async def rules_for_district(district_id: int) -> Rules:
    """The district's rule profile (``backend.rules.PROFILES``) with its overrides applied."""
    row = await District.select(District.rule_profile, District.rule_overrides).where(
        District.id == district_id).first()
    if row is None:
        raise NotFound("区县不存在", "District not found", field="district_id")
    return rules_for(row["rule_profile"] or BASELINE, _json(row["rule_overrides"]))


async def rules_for_project(project_id: int) -> Rules:
    row = await Project.select(Project.district).where(Project.id == project_id).first()
    if row is None:
        raise NotFound("项目不存在", "Project not found", field="project_id")
    return await rules_for_district(row["district"])


async def list_districts(ids: set[int] | None) -> list[dict[str, Any]]:
    q = District.select(District.id, District.code, District.name, District.rule_profile,
                        District.rule_overrides).order_by(District.code)
    if ids is not None:
        if not ids:
            return []
        q = q.where(District.id.is_in(list(ids)))
    rows = await q
    for r in rows:
        r["rule_overrides"] = _json(r["rule_overrides"])
        r["rule_profile_label"] = profile_label(r["rule_profile"])
    return rows


# --- Enterprises -------------------------------------------------------------------------


async def create_enterprise(
    name: str, uscc: str, *, short_name: str | None = None, registered_region: str | None = None,
    legal_representative: str | None = None, phone: str | None = None,
) -> int:
    name = clean_text(name, "name", "企业名称", max_len=200, required=True) or ""
    short_name = clean_text(short_name, "short_name", "企业简称", max_len=60)
    registered_region = clean_text(registered_region, "registered_region", "注册地", max_len=100)
    legal_representative = clean_text(legal_representative, "legal_representative", "法定代表人", max_len=60)
    code = parse_uscc(uscc)
    if await Enterprise.exists().where(Enterprise.uscc == code):
        raise Conflict("该统一社会信用代码已登记", "This USCC is already registered", field="uscc")
    e = Enterprise(
        name=name.strip(), uscc=code, short_name=short_name, registered_region=registered_region,
        legal_representative=legal_representative, phone=parse_phone(phone),
    )
    await e.save()
    return e.id


async def enterprise_by_uscc(uscc: str) -> dict[str, Any] | None:
    """The enterprise registered under this USCC (already checked by ``parse_uscc``), or None."""
    return await Enterprise.select().where(Enterprise.uscc == uscc).first()


async def list_enterprises() -> list[dict[str, Any]]:
    return await Enterprise.select().order_by(Enterprise.name)


async def enterprises_in_scope(project_ids: set[int] | None, enterprise_id: int | None = None) -> list[dict[str, Any]]:
    """Enterprises taking part in the given projects (None = all; ``enterprise_id``: only that one), each with
    its participations ``units`` (project-unit ids) — the enterprise list with its 上传省厅 column (seed 001)."""
    q = ProjectUnit.select(ProjectUnit.id, ProjectUnit.project, ProjectUnit.enterprise,
                           ProjectUnit.enterprise.name.as_alias("name"), ProjectUnit.enterprise.uscc.as_alias("uscc"))
    if project_ids is not None:
        if not project_ids:
            return []
        q = q.where(ProjectUnit.project.is_in(sorted(project_ids)))
    if enterprise_id is not None:
        q = q.where(ProjectUnit.enterprise == enterprise_id)
    out: dict[int, dict[str, Any]] = {}
    for r in await q.order_by(ProjectUnit.id):
        e = out.setdefault(r["enterprise"], {"id": r["enterprise"], "name": r["name"], "uscc": r["uscc"],
                                             "units": [], "projects": set()})
        e["units"].append(r["id"])
        e["projects"].add(r["project"])
    return sorted(out.values(), key=lambda e: e["name"])


# --- Projects ----------------------------------------------------------------------------


def required_channels(rules: Rules, category: str, floor_area_m2: float | None) -> int:
    return rules.required_gate_channels(category, floor_area_m2)


async def create_project(
    *, name: str, district_id: int, category: str, permit_no: str | None = None, address: str | None = None,
    floor_area_m2: float | None = None, contract_value_yuan: float | None = None,
    planned_start: date | None = None, lon: float | None = None, lat: float | None = None,
    status: str = ProjectStatus.preparing,
) -> int:
    name = clean_text(name, "name", "项目名称", max_len=200, required=True) or ""
    permit_no = clean_text(permit_no, "permit_no", "施工许可证编号", max_len=40)
    address = clean_text(address, "address", "项目地址", max_len=300)
    if category not in PROJECT_CATEGORY:
        raise invalid("category", "项目类别应为 building（房屋建筑）或 municipal（市政）",
                      "Category must be building or municipal")
    if status not in (ProjectStatus.preparing, ProjectStatus.under_construction):
        raise invalid("status", "新登记项目的状态应为 preparing（筹备）或 under_construction（在建）",
                      "A new project starts as preparing or under_construction")
    _check_amounts(floor_area_m2, contract_value_yuan)
    _check_lon_lat(lon, lat)
    if not await District.exists().where(District.id == district_id):
        raise invalid("district_id", "区县不存在", "District does not exist")
    # The registration day in the project's zone (the server's date is UTC: a day behind before 08:00 in China);
    # a project registered as 在建 started that day — the same date the status history says (one actual start).
    today = local_date(datetime.now(UTC), DEFAULT_TZ)
    p = Project(
        name=name.strip(), district=district_id, category=category, permit_no=permit_no, address=address,
        floor_area_m2=floor_area_m2, contract_value_yuan=contract_value_yuan, planned_start=planned_start,
        lon=lon, lat=lat, status=status,
        actual_start=today if status == ProjectStatus.under_construction else None,
    )
    async with write_transaction():
        await p.save()
        await ProjectStatusChange(
            project=p.id, from_status=None, to_status=status, effective_on=today, note="登记"
        ).save()
        await enqueue("project", p.id, "add", project_id=p.id)  # platform upload (issue 17)
    return p.id


def _check_amounts(floor_area_m2: float | None, contract_value_yuan: float | None) -> None:
    for fname, value in (("floor_area_m2", floor_area_m2), ("contract_value_yuan", contract_value_yuan)):
        if value is not None and not 0 <= value < 1e13:
            raise invalid(fname, "数值不能为负数或过大", "Value must not be negative or absurdly large")


def _check_lon_lat(lon: float | None, lat: float | None) -> None:
    if (lon is None) != (lat is None):
        raise invalid("lon", "经度和纬度须同时填写", "Give both longitude and latitude")
    if lon is not None and not -180 <= lon <= 180:
        raise invalid("lon", "经度超出范围（-180～180）", "Longitude out of range (-180…180)")
    if lat is not None and not -90 <= lat <= 90:
        raise invalid("lat", "纬度超出范围（-90～90）", "Latitude out of range (-90…90)")


async def get_project(project_id: int) -> dict[str, Any]:
    row = await Project.select(*Project.all_columns(), Project.district.name.as_alias("district_name")).where(
        Project.id == project_id
    ).first()
    if row is None:
        raise NotFound("项目不存在", "Project not found", field="project_id")
    rules = await rules_for_district(row["district"])
    row["status_label"] = PROJECT_STATUS[row["status"]]
    row["category_label"] = PROJECT_CATEGORY[row["category"]]
    row["required_channels"] = required_channels(rules, row["category"], row["floor_area_m2"])
    row["in_scope"] = rules.in_scope(row["category"], row["floor_area_m2"], row["contract_value_yuan"])
    row["rule_profile"] = rules.profile
    row["rule_profile_label"] = profile_label(rules.profile)
    row["scope_label"] = rules.scope_label()
    row["manager_start_label"] = rules.manager_start_label()
    row["manager_counting_start"] = rules.manager_counting_start(row["planned_start"], row["actual_start"])
    row["latency_label"] = rules.latency_label()
    return row


async def list_projects(ids: set[int] | None) -> list[dict[str, Any]]:
    q = Project.select(
        Project.id, Project.name, Project.status, Project.category, Project.district,
        Project.district.name.as_alias("district_name"), Project.permit_no, Project.planned_start,
        Project.floor_area_m2, Project.lon, Project.lat,
    ).order_by(Project.id)
    if ids is not None:
        if not ids:
            return []
        q = q.where(Project.id.is_in(sorted(ids)))
    rows = await q
    for r in rows:
        r["status_label"] = PROJECT_STATUS[r["status"]]
        r["category_label"] = PROJECT_CATEGORY[r["category"]]
    return rows


_EDITABLE = {"name", "permit_no", "address", "floor_area_m2", "contract_value_yuan", "planned_start", "lon", "lat"}


async def update_project(project_id: int, changes: dict[str, Any], *, user_id: int | None = None,
                         now: datetime | None = None) -> dict[str, Any] | None:
    """Edit a project's descriptive fields.  A new ``planned_start`` is not written: it becomes a change request
    (seed 004 §三(八), two-level approval), returned; the other fields are stored with it, in one transaction,
    or nothing is stored when either is refused."""
    unknown = set(changes) - _EDITABLE
    if unknown:
        key = sorted(unknown)[0]
        raise invalid(key, f"该字段不能在此修改：{key}", f"Field cannot be changed here: {key}")
    if "name" in changes:
        changes["name"] = clean_text(changes["name"], "name", "项目名称", max_len=200, required=True)
    for key, label, size in (("permit_no", "施工许可证编号", 40), ("address", "项目地址", 300)):
        if key in changes:
            changes[key] = clean_text(changes[key], key, label, max_len=size)
    current = await get_project(project_id)
    await ensure_project_writable(project_id, "修改项目信息")
    _check_amounts(changes.get("floor_area_m2"), changes.get("contract_value_yuan"))
    _check_lon_lat(changes.get("lon", current["lon"]), changes.get("lat", current["lat"]))
    new_start = changes.pop("planned_start", current["planned_start"])
    request: dict[str, Any] | None = None
    async with write_transaction():
        if new_start != current["planned_start"]:
            if new_start is None:
                raise invalid("planned_start", "拟开工日期不能清空", "The planned start cannot be removed")
            request = await request_change(project_id, ChangeKind.planned_start, new_start.isoformat(),
                                           reason="修改项目信息时变更拟开工日期", user_id=user_id, now=now)
        if changes:
            await Project.update({getattr(Project, k): v for k, v in changes.items()}).where(
                Project.id == project_id)
            await enqueue("project", project_id, "update", project_id=project_id)
    return request


# --- Completion read-only (workflow 5; seed 004 §三(十一) 完工 / seed 000 §三) ------------------------------------------
# Once a project is 完工 or 竣工 (an approved status change), it is read-only except for exits and wages: no roster
# entries, no new units or teams, no fence or terminal changes, no project edits.  Every such write service calls this.
READ_ONLY_STATUSES = frozenset({ProjectStatus.finished, ProjectStatus.accepted})


async def ensure_project_writable(project_id: int, purpose: str = "修改项目数据") -> None:
    """409 ``project_read_only`` when the project is finished or accepted; ``purpose`` (Chinese) names the refused
    write.  A missing project is left to the caller's own check."""
    row = await Project.select(Project.status).where(Project.id == project_id).first()
    if row is not None and row["status"] in READ_ONLY_STATUSES:
        raise Conflict(f"项目已{PROJECT_STATUS[row['status']]}，只能办理退场和工资，不能{purpose}",
                       f"The project is {row['status']}: only exits and wages may still be handled",
                       field="project_id", code="project_read_only")


def check_transition(current: str, target: str) -> None:
    if target not in PROJECT_STATUS:
        raise invalid("status", f"未知项目状态：{target}", f"Unknown project status: {target}")
    if target not in STATUS_TRANSITIONS[current]:
        allowed = "、".join(PROJECT_STATUS[s] for s in sorted(STATUS_TRANSITIONS[current])) or "无"
        raise Conflict(
            f"项目状态不能从「{PROJECT_STATUS[current]}」改为「{PROJECT_STATUS[target]}」（可改为：{allowed}）",
            f"Project status cannot change from {current} to {target}",
            field="status",
            code="bad_status_transition",
        )


async def change_status(project_id: int, target: str, *, effective_on: date, note: str, user_id: int | None) -> None:
    """Internal: write a status change at once, with no approval (demo data, migrations, test fixtures).  No HTTP
    handler calls it: people change a status through ``request_change`` + two ``decide_change`` (seed 004 §三)."""
    note = clean_text(note, "note", "说明", max_len=500, multiline=True) or ""
    async with write_transaction():
        row = await Project.select(Project.status).where(Project.id == project_id).first()
        if row is None:
            raise NotFound("项目不存在", "Project not found", field="project_id")
        await _write_status(project_id, row["status"], target, effective_on, note, user_id)


async def status_history(project_id: int) -> list[dict[str, Any]]:
    rows = await ProjectStatusChange.select().where(ProjectStatusChange.project == project_id).order_by(
        ProjectStatusChange.id
    )
    for r in rows:
        r["to_label"] = PROJECT_STATUS[r["to_status"]]
        r["from_label"] = PROJECT_STATUS.get(r["from_status"] or "", "")
    return rows


# --- Change requests: status and start dates take effect only after two-level approval ----------------------
#
# Seed 004 §三(八) (变更开工日期), (九) (停工), (十) (复工): the construction unit submits, the request is approved at two
# levels (二级审批) and only then "系统自动调整".  Seed 000 §三 forbids changing a status to escape supervision.  Our
# reading of the two levels with the roles we have (backend/vocabulary.Role):
#   level 1 — the project's 建设单位 or 监理单位: an ``enterprise`` user whose enterprise is an active owner or
#             supervision_firm unit of the project (when the project has neither, an enterprise user of any of its
#             active units); never the requester;
#   level 2 — the authority (住建主管部门): a ``supervisor`` of the project's district; never the level-1 decider.
# The system admin decides at neither level (a decision the rules give to these bodies alone).
# A request may not take effect before the day it is made (its local date in the project's time zone); only the
# level-2 approver may set an earlier date, with a reason that is recorded (``backdated_reason``).  Such a change
# never clears a warning for the days before the request (``approved_status_periods``: ``counts_from``).

LEVEL1_UNIT_TYPES = frozenset({UnitType.owner, UnitType.supervision_firm})
OPEN_REQUEST = (ChangeRequestStatus.pending, ChangeRequestStatus.level1_approved)


def local_date(moment: datetime, tz: str) -> date:
    """The calendar day of ``moment`` in the zone ``tz`` (a project's zone; unknown zones fall back to UTC+8)."""
    try:
        zone = ZoneInfo(tz or DEFAULT_TZ)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo(DEFAULT_TZ)
    return moment.astimezone(zone).date()


def add_months(day: date, months: int) -> date:
    """``day`` + ``months`` calendar months (the 31st becomes the month's last day)."""
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    last = (date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)).day
    return date(year, month, min(day.day, last))


def check_effective_not_before_request(effective_on: date, requested_on: date, field: str = "effective_on") -> None:
    """A requester may not date a change before the day of the request (issue 14 item 2)."""
    if effective_on < requested_on:
        raise invalid(
            field,
            f"生效日期（{effective_on.isoformat()}）不能早于申请当日（{requested_on.isoformat()}）：变更须经审批后生效，"
            "不能倒签",
            f"The effective date ({effective_on.isoformat()}) cannot be before the day of the request "
            f"({requested_on.isoformat()}): a change takes effect only after approval and is never back-dated",
            code="effective_before_request",
        )


def check_start_extension(current: date | None, target: date, earlier_extensions: int, rules: Rules) -> None:
    """Seed 004 §三(八) citing 《施工许可管理办法》第八条: 延期以两次为限，每次不超过三个月."""
    if current is None or target <= current:
        return  # not an extension (first planned start, or an earlier one)
    months = rules.start_date_extension_max_months
    if target > add_months(current, months):
        raise invalid(
            "target", f"开工日期每次延期不超过 {months} 个月（原拟开工日期 {current.isoformat()}，最迟可延至 "
            f"{add_months(current, months).isoformat()}）",
            f"A start date may be extended by at most {months} months at a time (latest "
            f"{add_months(current, months).isoformat()})", code="start_extension_too_long")
    if earlier_extensions >= rules.start_date_extension_max_count:
        raise invalid(
            "target", f"开工日期延期以 {rules.start_date_extension_max_count} 次为限，本项目已延期或申请延期 "
            f"{earlier_extensions} 次", f"A start date may be extended at most {rules.start_date_extension_max_count} "
            f"times; this project has {earlier_extensions}", code="start_extension_count")


def _parse_target_date(value: str) -> date:
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError as exc:
        raise invalid("target", f"日期格式应为 YYYY-MM-DD：{value!r}", f"Date must be YYYY-MM-DD: {value!r}") from exc


async def _start_extensions(project_id: int, *, exclude: int | None = None) -> int:
    """Extensions of the planned start so far: approved ones that moved it later, plus open requests."""
    rows = await ProjectChangeRequest.select(
        ProjectChangeRequest.id, ProjectChangeRequest.status, ProjectChangeRequest.target,
        ProjectChangeRequest.from_value,
    ).where((ProjectChangeRequest.project == project_id) & (ProjectChangeRequest.kind == ChangeKind.planned_start)
            & ProjectChangeRequest.status.is_in([*OPEN_REQUEST, ChangeRequestStatus.approved]))
    return sum(1 for r in rows if r["id"] != exclude and r["from_value"] and r["target"] > r["from_value"])


def _not_started() -> Conflict:
    return Conflict("项目已开工，开工日期不能再经此申请变更（已开工项目的状态变更请申请停工/复工）",
                    "The project has started; its start date cannot be changed by a request any more",
                    field="kind", code="project_already_started")


async def request_change(
    project_id: int, kind: str, target: str, *, effective_on: date | None = None, reason: str = "",
    user_id: int | None, now: datetime | None = None,
) -> dict[str, Any]:
    """Record a change request (nothing about the project changes yet).  ``target``: a status code for ``status``,
    an ISO date for ``planned_start``/``actual_start``.  The effective date may not be before the request's local
    date (400 ``effective_before_request``).  One open request per project and kind (409)."""
    if kind not in CHANGE_KIND_ZH:
        raise invalid("kind", f"未知变更类型：{kind}", f"Unknown change kind: {kind}")
    reason = clean_text(reason, "reason", "申请理由", max_len=500, multiline=True) or ""
    now = now or datetime.now(UTC)
    project = await Project.select(Project.status, Project.planned_start, Project.actual_start,
                                   Project.timezone).where(Project.id == project_id).first()
    if project is None:
        raise NotFound("项目不存在", "Project not found", field="project_id")
    requested_on = local_date(now, project["timezone"])
    from_value: str | None
    if kind == ChangeKind.status:
        check_transition(project["status"], target)
        effective = effective_on or requested_on
        from_value = project["status"]
    elif kind == ChangeKind.actual_start:
        if project["status"] != ProjectStatus.preparing:
            raise _not_started()
        effective = _parse_target_date(target)
        if effective_on is not None and effective_on != effective:
            raise invalid("effective_on", "实际开工日期即生效日期，两者须一致", "The actual start is the effective date")
        target, from_value = effective.isoformat(), None
    else:
        if project["status"] != ProjectStatus.preparing:
            raise _not_started()
        new_start = _parse_target_date(target)
        check_effective_not_before_request(new_start, requested_on, "target")
        current = project["planned_start"]
        if current == new_start:
            raise invalid("target", "拟开工日期未变化", "The planned start is unchanged", code="unchanged")
        rules = await rules_for_project(project_id)
        check_start_extension(current, new_start, await _start_extensions(project_id), rules)
        effective = requested_on if effective_on is None else effective_on
        target, from_value = new_start.isoformat(), current.isoformat() if current else None
    check_effective_not_before_request(effective, requested_on)
    async with write_transaction():
        if await ProjectChangeRequest.exists().where(
            (ProjectChangeRequest.project == project_id) & (ProjectChangeRequest.kind == kind)
            & ProjectChangeRequest.status.is_in(list(OPEN_REQUEST))
        ):
            raise _request_pending()
        row = ProjectChangeRequest(
            project=project_id, kind=kind, target=target, from_value=from_value, requested_by=user_id,
            requested_at=now, requested_on=requested_on, requested_effective_on=effective, reason=reason,
            status=ChangeRequestStatus.pending,
        )
        try:
            await row.save()
        except Exception as exc:  # the one-open-request index: a concurrent request won (PostgreSQL)
            if "project_change_request_one_open" not in str(exc) and "UNIQUE constraint" not in str(exc):
                raise
            raise _request_pending() from exc
    return await get_change_request(row.id)


def _request_pending() -> Conflict:
    return Conflict("本项目已有同类变更申请在审批中，请待其审批完成", "A request of this kind is awaiting approval",
                    field="kind", code="change_request_pending")


def _label_request(r: dict[str, Any]) -> dict[str, Any]:
    r["kind_label"] = CHANGE_KIND_ZH.get(r["kind"], r["kind"])
    r["status_label"] = CHANGE_REQUEST_STATUS_ZH.get(r["status"], r["status"])
    if r["kind"] == ChangeKind.status:
        r["target_label"] = PROJECT_STATUS.get(r["target"], r["target"])
        r["from_label"] = PROJECT_STATUS.get(r["from_value"] or "", "")
    else:
        r["target_label"], r["from_label"] = r["target"], r["from_value"] or ""
    r["backdated"] = bool(r["approved_effective_on"] and r["approved_effective_on"] < r["requested_on"])
    return r


async def get_change_request(request_id: int) -> dict[str, Any]:
    row = await ProjectChangeRequest.select().where(ProjectChangeRequest.id == request_id).first()
    if row is None:
        raise NotFound("变更申请不存在", "Change request not found", field="request_id")
    return _label_request(row)


async def list_change_requests(project_id: int, *, open_only: bool = False) -> list[dict[str, Any]]:
    q = ProjectChangeRequest.select().where(ProjectChangeRequest.project == project_id)
    if open_only:
        q = q.where(ProjectChangeRequest.status.is_in(list(OPEN_REQUEST)))
    return [_label_request(r) for r in await q.order_by(ProjectChangeRequest.id)]


async def level1_enterprise_ids(project_id: int) -> set[int]:
    """Enterprises whose users may decide level 1: the project's active owner and supervision-firm units (建设单位,
    监理单位); when it has neither, the enterprises of all its active units."""
    rows = await ProjectUnit.select(ProjectUnit.enterprise, ProjectUnit.unit_type).where(
        (ProjectUnit.project == project_id) & ProjectUnit.exited_on.is_null())
    preferred = {r["enterprise"] for r in rows if r["unit_type"] in LEVEL1_UNIT_TYPES}
    return preferred or {r["enterprise"] for r in rows}


async def _level1_holder(project_id: int) -> str:
    """Who decides level 1 in the project's district (``District.change_level1``, default: the units)."""
    row = await Project.select(Project.district.change_level1.as_alias("holder")).where(
        Project.id == project_id).first()
    return (row or {}).get("holder") or Level1Holder.units


async def set_change_level1(district_id: int, holder: str) -> None:
    """Choose who decides level 1 of the district's change requests (``Level1Holder``); level 2 stays the
    district's authority, and the two levels always need different people."""
    if holder not in LEVEL1_HOLDER_ZH:
        raise invalid("change_level1", "一级审批人应为 units（建设/监理单位）或 district（主管部门）",
                      "The level-1 holder must be units or district")
    done = await District.update({District.change_level1: holder}).where(District.id == district_id).returning(
        District.id)
    if not done:
        raise NotFound("区县不存在", "District not found", field="district_id")


async def change_level1_settings(ids: set[int] | None) -> list[dict[str, Any]]:
    """Each district's level-1 holder with its label (``None``: every district)."""
    q = District.select(District.id, District.name, District.change_level1).order_by(District.code)
    if ids is not None:
        q = q.where(District.id.is_in(sorted(ids) or [-1]))
    rows = await q
    for r in rows:
        r["label"] = LEVEL1_HOLDER_ZH.get(r["change_level1"], r["change_level1"])
    return rows


async def check_decider(req: dict[str, Any], level: int, *, user_id: int, role: str, enterprise_id: int | None,
                        district_ids: frozenset[int] | set[int]) -> None:
    """403 unless this user may decide ``req`` at ``level`` (see the reading above)."""
    if level == 1 and await _level1_holder(req["project"]) == Level1Holder.district:
        district = (await Project.select(Project.district).where(Project.id == req["project"]).first() or {}).get(
            "district")
        ok = role == Role.supervisor and district in district_ids
        who = "项目所在区县的主管部门监管人员（本区县设定）"
    elif level == 1:
        ok = role == Role.enterprise and enterprise_id is not None and enterprise_id in await level1_enterprise_ids(
            req["project"])
        who = "建设单位或监理单位人员"
    else:
        district = (await Project.select(Project.district).where(Project.id == req["project"]).first() or {}).get(
            "district")
        ok = role == Role.supervisor and district in district_ids
        who = "项目所在区县的主管部门监管人员"
    if not ok:
        raise Forbidden(f"第{level}级审批应由{who}办理", f"Level {level} is decided by another body",
                        code="role_forbidden")
    if user_id == req["requested_by"] or (level == 2 and user_id == req["level1_by"]):
        raise Forbidden("申请人不能审批自己的申请，两级审批须由不同人员办理",
                        "The requester cannot decide, and the two levels need different people",
                        code="role_forbidden")


def _decision_conflict(status: str) -> Conflict:
    return Conflict(f"该申请当前为「{CHANGE_REQUEST_STATUS_ZH.get(status, status)}」，不在此审批环节（可能已被他人审批）",
                    f"The request is {status}; it is not awaiting this decision (someone may have decided it)",
                    field="level", code="decision_conflict")


async def decide_change(
    request_id: int, *, level: int, approve: bool, user_id: int, role: str, enterprise_id: int | None = None,
    district_ids: frozenset[int] | set[int] = frozenset(), effective_on: date | None = None, reason: str = "",
    note: str = "", now: datetime | None = None,
) -> dict[str, Any]:
    """One decision.  Level 1 moves pending → level1_approved | rejected; level 2 moves level1_approved →
    approved | rejected and, when approved, applies the change in the same transaction.  Each step is one
    conditional UPDATE (a second decision on the same step is a 409).  Only level 2 may set ``effective_on``
    (default: the requested date); before the request's date only with a ``reason`` (recorded)."""
    if level not in (1, 2):
        raise invalid("level", "审批级别应为 1 或 2", "Level must be 1 or 2")
    note = clean_text(note, "note", "审批意见", max_len=500, multiline=True) or ""
    reason = clean_text(reason, "reason", "提前生效理由", max_len=500, multiline=True) or ""
    now = now or datetime.now(UTC)
    req = await get_change_request(request_id)
    await check_decider(req, level, user_id=user_id, role=role, enterprise_id=enterprise_id,
                        district_ids=district_ids)
    T = ProjectChangeRequest
    if level == 1:
        if effective_on is not None or reason:
            raise invalid("effective_on", "生效日期由第二级审批确定", "Only level 2 sets the effective date")
        status = ChangeRequestStatus.level1_approved if approve else ChangeRequestStatus.rejected
        async with write_transaction():
            done = await T.update({T.status: status, T.level1_by: user_id, T.level1_at: now, T.level1_note: note}).where(
                (T.id == request_id) & (T.status == ChangeRequestStatus.pending)).returning(T.id)
            if not done:
                raise _decision_conflict((await get_change_request(request_id))["status"])
        return await get_change_request(request_id)
    if not approve:
        async with write_transaction():
            done = await T.update({T.status: ChangeRequestStatus.rejected, T.level2_by: user_id, T.level2_at: now,
                                   T.level2_note: note}).where(
                (T.id == request_id) & (T.status == ChangeRequestStatus.level1_approved)).returning(T.id)
            if not done:
                raise _decision_conflict((await get_change_request(request_id))["status"])
        return await get_change_request(request_id)
    if req["kind"] == ChangeKind.planned_start and effective_on is not None:
        raise invalid("effective_on", "拟开工日期变更以批准之日生效，不设生效日期",
                      "A planned-start change takes effect on approval; no effective date")
    effective = effective_on or req["requested_effective_on"]
    if req["kind"] == ChangeKind.planned_start:
        effective = local_date(now, await _project_tz(req["project"]))
    backdated_reason = ""
    if effective < req["requested_on"]:
        if not reason:
            raise invalid("reason", "生效日期早于申请日期时，须由审批人填写理由", "An effective date before the request needs "
                          "the approver's reason", code="backdate_needs_reason")
        backdated_reason = reason
    async with write_transaction():
        done = await T.update({
            T.status: ChangeRequestStatus.approved, T.level2_by: user_id, T.level2_at: now, T.level2_note: note,
            T.approved_effective_on: effective, T.backdated_reason: backdated_reason, T.applied_at: now,
        }).where((T.id == request_id) & (T.status == ChangeRequestStatus.level1_approved)).returning(T.id)
        if not done:
            raise _decision_conflict((await get_change_request(request_id))["status"])
        await _apply(req, effective, user_id)  # raises (and rolls back) when the change no longer fits
    return await get_change_request(request_id)


async def _project_tz(project_id: int) -> str:
    row = await Project.select(Project.timezone).where(Project.id == project_id).first()
    return row["timezone"] if row else DEFAULT_TZ


async def _apply(req: dict[str, Any], effective: date, user_id: int | None) -> None:
    """Apply an approved request (inside the approval's transaction)."""
    project_id = req["project"]
    row = await Project.select(Project.status, Project.planned_start).where(Project.id == project_id).first()
    if row is None:
        raise NotFound("项目不存在", "Project not found", field="project_id")
    note = req["reason"] or CHANGE_KIND_ZH[req["kind"]]
    if req["kind"] == ChangeKind.planned_start:
        if row["status"] != ProjectStatus.preparing:
            raise _not_started()
        target = date.fromisoformat(req["target"])
        rules = await rules_for_project(project_id)
        check_start_extension(row["planned_start"], target, await _start_extensions(project_id, exclude=req["id"]),
                              rules)
        await Project.update({Project.planned_start: target}).where(Project.id == project_id)
        await enqueue("project", project_id, "update", project_id=project_id)
        return
    if req["kind"] == ChangeKind.actual_start:
        if row["status"] != ProjectStatus.preparing:
            raise _not_started()
        await _write_status(project_id, row["status"], ProjectStatus.under_construction, effective, note, user_id,
                            request_id=req["id"])
        return
    await _write_status(project_id, row["status"], req["target"], effective, note, user_id, request_id=req["id"])


async def _write_status(project_id: int, current: str, target: str, effective_on: date, note: str,
                        user_id: int | None, *, request_id: int | None = None) -> None:
    check_transition(current, target)
    changes: dict[Any, Any] = {Project.status: target}
    if target == ProjectStatus.under_construction and current == ProjectStatus.preparing:
        changes[Project.actual_start] = effective_on
    if target == ProjectStatus.finished:
        changes[Project.completed_on] = effective_on
    await Project.update(changes).where(Project.id == project_id)
    await ProjectStatusChange(
        project=project_id, from_status=current, to_status=target, effective_on=effective_on, note=note,
        changed_by=user_id, request=request_id,
    ).save()
    await enqueue("project", project_id, "update", project_id=project_id)


# --- Approved status periods: what the rules engine reads -------------------------------------------------------


def status_timeline(changes: Iterable[tuple[date, str]]) -> tuple[tuple[date, str], ...]:
    """Breakpoints ``(from_day, status)`` from status changes given in recorded order: each change holds from its
    date onwards and replaces whatever had been recorded for that date and later."""
    points: list[tuple[date, str]] = []
    for effective_on, status in changes:
        points = [p for p in points if p[0] < effective_on]
        points.append((effective_on, status))
    return tuple(points)


async def status_change_rows(project_ids: Iterable[int] | None) -> dict[int, list[tuple[date, str, date]]]:
    """Each project's applied status changes in recorded order: ``(effective_on, to_status, counts_from)``.
    Only applied rows exist in ``project_status_change`` (a request writes one when its last level approves).
    ``counts_from`` is the day from which the change may clear a warning: its request's date when the approver
    back-dated it, else its effective date."""
    q = ProjectStatusChange.select(
        ProjectStatusChange.project, ProjectStatusChange.effective_on, ProjectStatusChange.to_status,
        ProjectStatusChange.request.requested_on.as_alias("requested_on"),
    ).order_by(ProjectStatusChange.id)
    if project_ids is not None:
        ids = sorted(set(project_ids))
        if not ids:
            return {}
        # the ids inline (ints only): a district's thousands of projects would pass the engines' bind-parameter caps
        q = q.where(WhereRaw(f'"project_status_change"."project" IN ({",".join(str(int(i)) for i in ids)})'))
    out: dict[int, list[tuple[date, str, date]]] = defaultdict(list)
    for r in await q:
        eff = r["effective_on"]
        out[r["project"]].append((eff, r["to_status"], max(eff, r["requested_on"] or eff)))
    return out


async def approved_status_periods(
    project_ids: Iterable[int], start: date, end: date, *, as_recorded: bool = False,
) -> dict[int, list[tuple[date, date, str]]]:
    """Each project's status over [start, end] as ``(first, last, status)`` periods, from approved (applied) changes
    only.  ``as_recorded``: each change counts from its ``counts_from`` day (the view that decides whether a
    warning may be cleared — never by a change for days before its request)."""
    ids = sorted(set(project_ids))
    rows = await status_change_rows(ids)
    out: dict[int, list[tuple[date, date, str]]] = {}
    for pid in ids:
        changes = [(c if as_recorded else e, s) for e, s, c in rows.get(pid, [])]
        out[pid] = timeline_periods(status_timeline(changes), start, end)
    return out


def timeline_periods(timeline: tuple[tuple[date, str], ...], start: date, end: date) -> list[tuple[date, date, str]]:
    """Cut a timeline into ``(first, last, status)`` periods within [start, end]; before the first change the
    project was not registered (筹备)."""
    if end < start:
        return []
    periods: list[tuple[date, date, str]] = []
    points = [(date.min, ProjectStatus.preparing.value), *timeline]
    for i, (begin, status) in enumerate(points):
        finish = points[i + 1][0] - timedelta(days=1) if i + 1 < len(points) else date.max
        lo, hi = max(begin, start), min(finish, end)
        if lo <= hi:
            periods.append((lo, hi, status))
    return periods


# --- Units and teams -----------------------------------------------------------------------


async def add_unit(project_id: int, enterprise_id: int, unit_type: str, entered_on: date | None = None) -> int:
    """Add a participant unit and create its management team (seed 001 §2.6.1)."""
    if unit_type not in UNIT_TYPE:
        raise invalid("unit_type", f"未知参建单位类型：{unit_type}", f"Unknown unit type: {unit_type}")
    if not await Enterprise.exists().where(Enterprise.id == enterprise_id):
        raise invalid("enterprise_id", "企业不存在，请先在企业库登记", "Enterprise does not exist; register it first")
    await get_project(project_id)
    await ensure_project_writable(project_id, "添加参建单位")
    active = await ProjectUnit.exists().where(
        (ProjectUnit.project == project_id) & (ProjectUnit.enterprise == enterprise_id)
        & (ProjectUnit.unit_type == unit_type) & ProjectUnit.exited_on.is_null()
    )
    if active:
        raise Conflict("该企业已以此身份参建本项目", "This enterprise already has this role on the project",
                       field="enterprise_id")
    entered_on = entered_on or local_today()
    async with write_transaction():
        unit = ProjectUnit(project=project_id, enterprise=enterprise_id, unit_type=unit_type, entered_on=entered_on)
        await unit.save()
        team = Team(
            project=project_id, unit=unit.id, name=MANAGEMENT_TEAM_NAME[unit_type], kind=TeamKind.management,
            entered_on=entered_on, is_auto=True,
        )
        await team.save()
        await enqueue("project_unit", unit.id, "add", project_id=project_id)
        await enqueue("team", team.id, "add", project_id=project_id)
    return unit.id


async def list_units(project_id: int) -> list[dict[str, Any]]:
    rows = await ProjectUnit.select(
        *ProjectUnit.all_columns(), ProjectUnit.enterprise.name.as_alias("enterprise_name"),
        ProjectUnit.enterprise.uscc.as_alias("uscc"),
    ).where(ProjectUnit.project == project_id).order_by(ProjectUnit.id)
    for r in rows:
        r["unit_type_label"] = UNIT_TYPE[r["unit_type"]]
    return rows


async def unit_in_project(unit_id: int, project_id: int) -> dict[str, Any]:
    row = await ProjectUnit.select().where((ProjectUnit.id == unit_id) & (ProjectUnit.project == project_id)).first()
    if row is None:
        raise invalid("unit_id", "参建单位不属于该项目", "Unit does not belong to this project")
    return row


async def create_team(
    project_id: int, unit_id: int, name: str, kind: str = TeamKind.worker, leader_person_id: int | None = None,
    entered_on: date | None = None,
) -> int:
    """Store a team.  ``leader_person_id`` is stored as given: whether that person is on the project's roster is
    the roster's question (workforce sits above org) — the API and the demo create teams through
    ``backend.workforce.services.create_team``, which checks the leader first."""
    if kind not in TEAM_KIND or kind == TeamKind.management:
        raise invalid("kind", "班组类型应为 worker（普通工人）或 other（其他人员）；管理人员班组由系统自动创建",
                      "Team kind must be worker or other; management teams are created automatically")
    name = clean_text(name, "name", "班组名称", max_len=100, required=True) or ""
    await ensure_project_writable(project_id, "新建班组")
    unit = await unit_in_project(unit_id, project_id)
    if unit["exited_on"] is not None:
        raise Conflict("参建单位已退场，不能添加班组", "The unit has exited; it cannot get new teams", field="unit_id")
    if await Team.exists().where((Team.project == project_id) & (Team.name == name.strip()) & Team.exited_on.is_null()):
        raise Conflict("本项目已有同名班组", "A team of this name already exists on the project", field="name")
    t = Team(project=project_id, unit=unit_id, name=name.strip(), kind=kind, leader=leader_person_id,
             entered_on=entered_on or local_today())
    async with write_transaction():
        await t.save()
        await enqueue("team", t.id, "add", project_id=project_id)
    return t.id


async def list_teams(project_id: int) -> list[dict[str, Any]]:
    rows = await Team.select(*Team.all_columns(), Team.unit.unit_type.as_alias("unit_type"),
                             Team.unit.enterprise.name.as_alias("enterprise_name")).where(
        Team.project == project_id
    ).order_by(Team.id)
    for r in rows:
        r["kind_label"] = TEAM_KIND[r["kind"]]
    return rows


async def team_in_project(team_id: int, project_id: int) -> dict[str, Any]:
    row = await Team.select().where((Team.id == team_id) & (Team.project == project_id)).first()
    if row is None:
        raise invalid("team_id", "班组不属于该项目", "Team does not belong to this project")
    return row


# --- Ending a team or a unit on the project (issue 15; seed 001 §2.6–2.7) ----------------------------------------
#
# A team or a unit leaves the project only when nobody is on it any more: the roster (workforce, a layer above
# org) says who is; the caller passes ``still_on``, awaited inside the write transaction, which returns the names
# of the people with active roster entries in the team (or the unit).


async def end_team(project_id: int, team_id: int, *, ended_on: date | None = None,
                   still_on: Callable[[], Awaitable[list[str]]]) -> None:
    """Mark a worker team as exited (退场) on ``ended_on`` (default: today in China).  409 ``team_not_empty`` with
    the names of who is still on it; a management team ends with its unit only."""
    team = await team_in_project(team_id, project_id)
    if team["exited_on"] is not None:
        raise Conflict("该班组已退场", "The team has already exited", field="team_id", code="already_exited")
    if team["kind"] == TeamKind.management:
        raise Conflict("管理人员班组随参建单位退场，不能单独结束", "A management team ends with its unit",
                       field="team_id", code="management_team")
    day = ended_on or local_today()
    async with write_transaction():
        names = await still_on()
        if names:
            raise _still_on("班组", names)
        await Team.update({Team.exited_on: day}).where((Team.id == team_id) & Team.exited_on.is_null())
        await enqueue("team", team_id, "update", project_id=project_id)


async def end_unit(project_id: int, unit_id: int, *, ended_on: date | None = None,
                   still_on: Callable[[], Awaitable[list[str]]]) -> None:
    """Mark a participant unit and all its teams (the management team included) as exited.  409
    ``unit_not_empty`` with the names of who is still on any of its teams."""
    unit = await unit_in_project(unit_id, project_id)
    if unit["exited_on"] is not None:
        raise Conflict("该参建单位已退场", "The unit has already exited", field="unit_id", code="already_exited")
    day = ended_on or local_today()
    async with write_transaction():
        names = await still_on()
        if names:
            raise _still_on("参建单位", names)
        ended = await Team.select(Team.id).where((Team.unit == unit_id) & Team.exited_on.is_null())
        await Team.update({Team.exited_on: day}).where((Team.unit == unit_id) & Team.exited_on.is_null())
        await ProjectUnit.update({ProjectUnit.exited_on: day}).where(ProjectUnit.id == unit_id)
        await enqueue("project_unit", unit_id, "update", project_id=project_id)
        for t in ended:
            await enqueue("team", t["id"], "update", project_id=project_id)


def _still_on(what: str, names: list[str]) -> Conflict:
    shown = "、".join(names[:20]) + (f" 等 {len(names)} 人" if len(names) > 20 else "")
    code = "team_not_empty" if what == "班组" else "unit_not_empty"
    return Conflict(f"该{what}仍有 {len(names)} 人在场，须先办理退场：{shown}",
                    f"{len(names)} people are still on it; they must exit first", field="id", code=code,
                    extra={"people": names})


# --- Evidence of change requests, and the deciders' queue (issue 15) ----------------------------------------------

EVIDENCE_TYPES = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG\r\n\x1a\n": "image/png", b"%PDF-": "application/pdf"}
MAX_EVIDENCE_BYTES = 5 * 1024 * 1024


def check_evidence(data: bytes | None, *, required: bool = True) -> str | None:
    """The evidence file's type, sniffed from its bytes: JPG, PNG or PDF, at most 5 MB."""
    if not data:
        if required:
            raise invalid("evidence", "请上传证明材料（JPG、PNG 或 PDF，不超过 5 MB）", "Evidence file required",
                          code="file_required")
        return None
    if len(data) > MAX_EVIDENCE_BYTES:
        raise invalid("evidence", "证明材料不能超过 5 MB", "Evidence must be at most 5 MB", code="file_too_large")
    for magic, kind in EVIDENCE_TYPES.items():
        if bytes(data[:8]).startswith(magic):
            return kind
    raise invalid("evidence", "证明材料须为 JPG、PNG 或 PDF 文件（按文件内容识别）",
                  "Evidence must be a JPG, PNG or PDF file (judged by its content)", code="bad_file_type")


async def request_change_with_evidence(
    project_id: int, kind: str, target: str, *, effective_on: date | None = None, reason: str = "",
    user_id: int | None, evidence: bytes | None, filename: str = "", now: datetime | None = None,
) -> dict[str, Any]:
    """``request_change`` and its evidence file, in one transaction (a refused file stores no request)."""
    content_type = check_evidence(evidence)
    if not reason.strip():
        raise invalid("reason", "请填写申请理由", "A reason is required", code="reason_required")
    name = (clean_text(filename, "filename", "文件名", max_len=200) or "")[:200]
    async with write_transaction():
        req = await request_change(project_id, kind, target, effective_on=effective_on, reason=reason,
                                   user_id=user_id, now=now)
        await ProjectChangeEvidence(request=req["id"], filename=name, content_type=content_type or "",
                                    size=len(evidence or b""), data=evidence).save()
    req["has_evidence"] = True
    return req


async def change_evidence(request_id: int) -> dict[str, Any]:
    row = await ProjectChangeEvidence.select().where(ProjectChangeEvidence.request == request_id).first()
    if row is None:
        raise NotFound("该申请没有证明材料", "No evidence for this request", field="request_id")
    return row


async def search_change_requests(
    project_ids: set[int] | None, *, district_id: int | None = None, project_id: int | None = None,
    kind: str | None = None, status: str | None = None, since: date | None = None, until: date | None = None,
    page: int = 1, per_page: int = 20,
) -> tuple[list[dict[str, Any]], int]:
    """Change requests of the visible projects (``None``: all), newest first, filtered by the request's local date
    (``requested_on``); one page and the total count.  ``kind`` is a form kind (see ``FORM_KINDS``) or a
    ``ChangeKind``; ``status`` ``open`` means pending or level-1 approved."""
    T = ProjectChangeRequest
    where: Any = T.id > 0
    if project_ids is not None:
        if not project_ids:
            return [], 0
        where &= T.project.is_in(sorted(project_ids))
    if district_id is not None:
        where &= T.project.district == district_id
    if project_id is not None:
        where &= T.project == project_id
    if kind in FORM_KINDS:
        k, target = FORM_KINDS[kind]
        where &= T.kind == k
        if target:
            where &= T.target == target
    elif kind:
        where &= T.kind == kind
    if status == "open":
        where &= T.status.is_in(list(OPEN_REQUEST))
    elif status:
        where &= T.status == status
    if since is not None:
        where &= T.requested_on >= since
    if until is not None:
        where &= T.requested_on <= until
    total = await T.count().where(where)
    per_page = max(1, min(per_page, 100))
    page = max(1, page)
    rows = await T.select(
        *T.all_columns(), T.project.name.as_alias("project_name"), T.project.district.as_alias("district"),
        T.project.district.name.as_alias("district_name"), T.project.status.as_alias("project_status"),
    ).where(where).order_by(T.id, ascending=False).limit(per_page).offset((page - 1) * per_page)
    with_evidence = {r["request"] for r in await ProjectChangeEvidence.select(ProjectChangeEvidence.request).where(
        ProjectChangeEvidence.request.is_in([r["id"] for r in rows] or [-1]))}
    for r in rows:
        _label_request(r)
        r["has_evidence"] = r["id"] in with_evidence
        r["project_status_label"] = PROJECT_STATUS.get(r["project_status"], r["project_status"])
    return rows, total


# What a person files (the page's choices): form kind → (ChangeKind, status target or None for a date).
FORM_KINDS: dict[str, tuple[str, str | None]] = {
    "planned_start": (ChangeKind.planned_start, None),
    "suspend": (ChangeKind.status, ProjectStatus.suspended),
    "resume": (ChangeKind.status, ProjectStatus.under_construction),
    "finish": (ChangeKind.status, ProjectStatus.finished),
    "accept": (ChangeKind.status, ProjectStatus.accepted),
}
FORM_KIND_ZH: dict[str, str] = CHANGE_FORM_KIND_ZH  # backend/vocabulary.py ChangeFormKind


def form_kind_of(req: dict[str, Any]) -> str:
    """The form kind of a stored request (resume vs. start: both move to 在建; a start from 筹备 is 开工)."""
    if req["kind"] == ChangeKind.status:
        if req["target"] == ProjectStatus.under_construction and req.get("from_value") == ProjectStatus.preparing:
            return "start"
        for name, (k, target) in FORM_KINDS.items():
            if k == ChangeKind.status and target == req["target"]:
                return name
    return req["kind"]
