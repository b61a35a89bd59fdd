"""Districts, enterprises, projects (with status history), units and teams.  All SQL of the domain."""

from __future__ import annotations

from datetime import date
from typing import Any

from backend.db import write_transaction
from backend.errors import Conflict, NotFound, invalid
from backend.org.dictionaries import (
    MANAGEMENT_TEAM_NAME,
    PROJECT_CATEGORY,
    PROJECT_STATUS,
    STATUS_TRANSITIONS,
    TEAM_KIND,
    UNIT_TYPE,
)
from backend.org.tables import District, Enterprise, Project, ProjectStatusChange, ProjectUnit, Team
from backend.rules import DEFAULT_RULES, Rules
from backend.validators import clean_text, parse_phone, parse_uscc
from backend.vocabulary import ProjectStatus, TeamKind

# --- Districts and their rules -----------------------------------------------------------


async def create_district(code: str, name: str, rule_overrides: dict[str, Any] | None = None) -> int:
    if not code.strip().isdigit() or not 6 <= len(code.strip()) <= 12:
        raise invalid("code", "区县代码应为 6–12 位数字", "District code must be 6–12 digits")
    name = clean_text(name, "name", "区县名称", max_len=64, required=True) or ""
    DEFAULT_RULES.with_overrides(rule_overrides)  # validates
    if await District.exists().where(District.code == code.strip()):
        raise Conflict("区县代码已存在", "District code already exists", field="code")
    d = District(code=code.strip(), name=name.strip(), rule_overrides=rule_overrides or {})
    await d.save()
    return d.id


async def set_rule_overrides(district_id: int, overrides: dict[str, Any]) -> Rules:
    rules = DEFAULT_RULES.with_overrides(overrides)
    n = await District.update({District.rule_overrides: overrides}).where(District.id == district_id).returning(
        District.id
    )
    if not n:
        raise NotFound("区县不存在", "District not found", field="district_id")
    return rules


def _json(value: Any) -> dict[str, Any]:
    import json

    if isinstance(value, str):
        return json.loads(value or "{}")
    return dict(value or {})


async def rules_for_district(district_id: int) -> Rules:
    row = await District.select(District.rule_overrides).where(District.id == district_id).first()
    if row is None:
        raise NotFound("区县不存在", "District not found", field="district_id")
    return DEFAULT_RULES.with_overrides(_json(row["rule_overrides"]))


async def rules_for_project(project_id: int) -> Rules:
    row = await Project.select(Project.district).where(Project.id == project_id).first()
    if row is None:
        raise NotFound("项目不存在", "Project not found", field="project_id")
    return await rules_for_district(row["district"])


async def list_districts(ids: set[int] | None) -> list[dict[str, Any]]:
    q = District.select(District.id, District.code, District.name, District.rule_overrides).order_by(District.code)
    if ids is not None:
        if not ids:
            return []
        q = q.where(District.id.is_in(list(ids)))
    rows = await q
    for r in rows:
        r["rule_overrides"] = _json(r["rule_overrides"])
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


async def list_enterprises() -> list[dict[str, Any]]:
    return await Enterprise.select().order_by(Enterprise.name)


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
    p = Project(
        name=name.strip(), district=district_id, category=category, permit_no=permit_no, address=address,
        floor_area_m2=floor_area_m2, contract_value_yuan=contract_value_yuan, planned_start=planned_start,
        lon=lon, lat=lat, status=status,
    )
    async with write_transaction():
        await p.save()
        await ProjectStatusChange(
            project=p.id, from_status=None, to_status=status, effective_on=date.today(), note="登记"
        ).save()
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


async def update_project(project_id: int, changes: dict[str, Any]) -> None:
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
    _check_amounts(changes.get("floor_area_m2"), changes.get("contract_value_yuan"))
    _check_lon_lat(changes.get("lon", current["lon"]), changes.get("lat", current["lat"]))
    if changes:
        await Project.update({getattr(Project, k): v for k, v in changes.items()}).where(Project.id == project_id)


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
    note = clean_text(note, "note", "说明", max_len=500, multiline=True) or ""
    async with write_transaction():
        row = await Project.select(Project.status).where(Project.id == project_id).first()
        if row is None:
            raise NotFound("项目不存在", "Project not found", field="project_id")
        check_transition(row["status"], target)
        changes: dict[Any, Any] = {Project.status: target}
        if target == ProjectStatus.under_construction and row["status"] == ProjectStatus.preparing:
            changes[Project.actual_start] = effective_on
        if target == ProjectStatus.finished:
            changes[Project.completed_on] = effective_on
        await Project.update(changes).where(Project.id == project_id)
        await ProjectStatusChange(
            project=project_id, from_status=row["status"], to_status=target, effective_on=effective_on,
            note=note, changed_by=user_id,
        ).save()


async def status_history(project_id: int) -> list[dict[str, Any]]:
    rows = await ProjectStatusChange.select().where(ProjectStatusChange.project == project_id).order_by(
        ProjectStatusChange.id
    )
    for r in rows:
        r["to_label"] = PROJECT_STATUS[r["to_status"]]
        r["from_label"] = PROJECT_STATUS.get(r["from_status"] or "", "")
    return rows


# --- Units and teams -----------------------------------------------------------------------


async def add_unit(project_id: int, enterprise_id: int, unit_type: str, entered_on: date | None = None) -> int:
    """Add a participant unit and create its management team (seed 001 §2.6.1)."""
    if unit_type not in UNIT_TYPE:
        raise invalid("unit_type", f"未知参建单位类型：{unit_type}", f"Unknown unit type: {unit_type}")
    if not await Enterprise.exists().where(Enterprise.id == enterprise_id):
        raise invalid("enterprise_id", "企业不存在，请先在企业库登记", "Enterprise does not exist; register it first")
    await get_project(project_id)
    active = await ProjectUnit.exists().where(
        (ProjectUnit.project == project_id) & (ProjectUnit.enterprise == enterprise_id)
        & (ProjectUnit.unit_type == unit_type) & ProjectUnit.exited_on.is_null()
    )
    if active:
        raise Conflict("该企业已以此身份参建本项目", "This enterprise already has this role on the project",
                       field="enterprise_id")
    entered_on = entered_on or date.today()
    async with write_transaction():
        unit = ProjectUnit(project=project_id, enterprise=enterprise_id, unit_type=unit_type, entered_on=entered_on)
        await unit.save()
        await Team(
            project=project_id, unit=unit.id, name=MANAGEMENT_TEAM_NAME[unit_type], kind=TeamKind.management,
            entered_on=entered_on, is_auto=True,
        ).save()
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
    unit = await unit_in_project(unit_id, project_id)
    if unit["exited_on"] is not None:
        raise Conflict("参建单位已退场，不能添加班组", "The unit has exited; it cannot get new teams", field="unit_id")
    if await Team.exists().where((Team.project == project_id) & (Team.name == name.strip()) & Team.exited_on.is_null()):
        raise Conflict("本项目已有同名班组", "A team of this name already exists on the project", field="name")
    t = Team(project=project_id, unit=unit_id, name=name.strip(), kind=kind, leader=leader_person_id,
             entered_on=entered_on or date.today())
    await t.save()
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
