"""Platform upload services (issue 17): credentials, per-entity upload states, dependencies between entities,
the outbox tasks the uploader works on, and the queries of the pages (上传省厅结果查询, seed 001 §2.9) and of
the project qualification rule (seed 001 §2.3 项目合格规则).

The only module of ``backend.platform`` with queries on our own tables besides ``payloads`` (which reads the
entities for the adapter)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from piccolo.query.functions.aggregate import Count

from backend.attendance.tables import Punch
from backend.crew.tables import LabourContract
from backend.crypto import decrypt_text, encrypt_text
from backend.db import write_transaction
from backend.errors import NotFound, invalid
from backend.org.services import rules_for_project
from backend.org.tables import District, Project, ProjectUnit, Team
from backend.outbox import OPEN_STATES, enqueue, open_key
from backend.platform.adapter import KIND_ZH
from backend.platform.tables import PlatformCredential, PlatformHealth, UploadEntityState, UploadTask
from backend.platform.wire import ENTITY_KINDS, EntityKind, PlatformCredentials
from backend.vocabulary import UPLOAD_STATE_ZH, UploadState, local_time
from backend.workforce.tables import RosterEntry

SECRET_AAD = b"platform_secret"

# --- Credentials ------------------------------------------------------------------------------------------------


async def set_credentials(district_id: int, base_url: str, appid: str, appsecret: str, *,
                          project_id: int | None = None) -> int:
    """Store (replace) the platform account of a district, or of one project of it; the secret encrypted."""
    base_url, appid = base_url.strip(), appid.strip()
    if not base_url.startswith(("http://", "https://")):
        raise invalid("base_url", "平台地址须以 http:// 或 https:// 开头", "The platform URL must be http(s)")
    if not appid or not appsecret:
        raise invalid("appid", "请填写 appid 和 appsecret", "appid and appsecret are required")
    if not await District.exists().where(District.id == district_id):
        raise NotFound("区县不存在", "District not found", field="district_id")
    cipher = encrypt_text(appsecret, aad=SECRET_AAD)
    where = (PlatformCredential.district == district_id) & (
        PlatformCredential.project == project_id if project_id is not None else PlatformCredential.project.is_null())
    async with write_transaction():
        await PlatformCredential.delete().where(where)
        row = PlatformCredential(district=district_id, project=project_id, base_url=base_url, appid=appid,
                                 secret_cipher=cipher, enabled=True, updated_at=datetime.now(UTC))
        await row.save()
    return row.id


@dataclass(frozen=True, slots=True)
class ProjectPlatform:
    """Where a project's records go: the platform account and the district."""

    creds: PlatformCredentials
    district_id: int


async def platform_for_project(project_id: int) -> ProjectPlatform | None:
    """The project's own account, else its district's; None when neither is configured (nothing is sent)."""
    p = await Project.select(Project.district).where(Project.id == project_id).first()
    if p is None:
        return None
    rows = await PlatformCredential.select().where(
        (PlatformCredential.district == p["district"]) & (PlatformCredential.enabled == True)  # noqa: E712
        & ((PlatformCredential.project == project_id) | PlatformCredential.project.is_null()))
    if not rows:
        return None
    row = sorted(rows, key=lambda r: r["project"] is None)[0]
    creds = PlatformCredentials(base_url=row["base_url"], appid=row["appid"],
                                appsecret=decrypt_text(row["secret_cipher"], aad=SECRET_AAD))
    return ProjectPlatform(creds=creds, district_id=p["district"])


async def district_platforms(district_ids: set[int] | None) -> list[dict[str, Any]]:
    """Configured accounts (no secrets) with their platform's health, for the pages."""
    q = PlatformCredential.select(PlatformCredential.id, PlatformCredential.district, PlatformCredential.project,
                                  PlatformCredential.base_url, PlatformCredential.appid,
                                  PlatformCredential.district.name.as_alias("district_name"))
    if district_ids is not None:
        if not district_ids:
            return []
        q = q.where(PlatformCredential.district.is_in(sorted(district_ids)))
    rows = await q
    health = {h["base_url"]: h for h in await PlatformHealth.select()}
    for r in rows:
        h = health.get(r["base_url"])
        r["down"] = bool(h and h["circuit"] == "open")
        r["down_since"] = local_time(h["down_since"]) if h and h["down_since"] else ""
        r["last_error"] = (h or {}).get("last_error") or ""
    return rows


# --- Platform health (circuit breaker, persisted for the pages) ------------------------------------------------


async def record_health(base_url: str, *, down_since: datetime | None, error: str | None) -> None:
    """The circuit of ``base_url`` is open since ``down_since`` (None: closed, the platform answers again)."""
    now = datetime.now(UTC)
    circuit = "open" if down_since is not None else "closed"
    updated = await PlatformHealth.update({
        PlatformHealth.circuit: circuit, PlatformHealth.down_since: down_since,
        PlatformHealth.last_error: error, PlatformHealth.updated_at: now,
    }).where(PlatformHealth.base_url == base_url).returning(PlatformHealth.id)
    if not updated:
        await PlatformHealth.insert(PlatformHealth(base_url=base_url, circuit=circuit, down_since=down_since,
                                                   last_error=error, updated_at=now)
                                    ).on_conflict(target=PlatformHealth.base_url, action="DO NOTHING")


# --- Entities: project, label, parents --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EntityInfo:
    """Where an entity belongs and what it needs first (seed 003: a team after its unit, a worker after its
    team, entry after the worker, attendance after the entry)."""

    project_id: int
    parents: tuple[tuple[EntityKind, int], ...]


async def entity_info(kind: EntityKind, entity_id: int) -> EntityInfo | None:
    """None when the entity is gone."""
    if kind == "project":
        return EntityInfo(entity_id, ()) if await Project.exists().where(Project.id == entity_id) else None
    if kind == "project_unit":
        row = await ProjectUnit.select(ProjectUnit.project).where(ProjectUnit.id == entity_id).first()
        return EntityInfo(row["project"], (("project", row["project"]),)) if row else None
    if kind == "team":
        row = await Team.select(Team.project, Team.unit).where(Team.id == entity_id).first()
        return EntityInfo(row["project"], (("project_unit", row["unit"]),)) if row else None
    if kind in ("worker", "worker_entry", "worker_exit"):
        row = await RosterEntry.select(RosterEntry.project, RosterEntry.team).where(
            RosterEntry.id == entity_id).first()
        if row is None:
            return None
        parent: tuple[EntityKind, int] = {
            "worker": ("team", row["team"]), "worker_entry": ("worker", entity_id),
            "worker_exit": ("worker_entry", entity_id)}[kind]  # type: ignore[assignment]
        return EntityInfo(row["project"], (parent,))
    if kind == "contract":
        row = await LabourContract.select(LabourContract.project, LabourContract.roster_entry).where(
            LabourContract.id == entity_id).first()
        return EntityInfo(row["project"], (("worker", row["roster_entry"]),)) if row else None
    if kind == "attendance":
        row = await Punch.select(Punch.project, Punch.person, Punch.local_date).where(Punch.id == entity_id).first()
        if row is None:
            return None
        entry = await RosterEntry.select(RosterEntry.id).where(
            (RosterEntry.person == row["person"]) & (RosterEntry.project == row["project"])
            & (RosterEntry.entered_on <= date.fromisoformat(row["local_date"]))
        ).order_by(RosterEntry.entered_on, ascending=False).first()
        return EntityInfo(row["project"], (("worker_entry", entry["id"]),) if entry else ())
    return None


async def entities_in_projects(kind: str, ids: Iterable[int], project_ids: set[int]) -> set[int]:
    """The ids among ``ids`` whose entity belongs to one of ``project_ids`` (scope of the list pages)."""
    ids = sorted(set(ids))
    if not ids or not project_ids:
        return set()
    if kind == "project":
        return set(ids) & project_ids
    table, col = {
        "project_unit": (ProjectUnit, ProjectUnit.project), "team": (Team, Team.project),
        "worker": (RosterEntry, RosterEntry.project), "worker_entry": (RosterEntry, RosterEntry.project),
        "worker_exit": (RosterEntry, RosterEntry.project), "contract": (LabourContract, LabourContract.project),
        "attendance": (Punch, Punch.project),
    }.get(kind, (None, None))
    if table is None:  # a kind kept above this package (payroll): the project its upload state names
        rows = await UploadEntityState.select(UploadEntityState.entity_id).where(
            (UploadEntityState.kind == kind) & UploadEntityState.entity_id.is_in(ids)
            & UploadEntityState.project_id.is_in(sorted(project_ids)))
        return {r["entity_id"] for r in rows}
    rows = await table.select(table.id).where(table.id.is_in(ids) & col.is_in(sorted(project_ids)))
    return {r["id"] for r in rows}


async def entity_names(kind: str, ids: Iterable[int]) -> dict[int, str]:
    """What people call these entities (for the result page and the 等待 … reasons)."""
    ids = sorted(set(ids))
    if not ids:
        return {}
    if kind == "project":
        rows = await Project.select(Project.id, Project.name).where(Project.id.is_in(ids))
        return {r["id"]: r["name"] for r in rows}
    if kind == "project_unit":
        rows = await ProjectUnit.select(ProjectUnit.id, ProjectUnit.enterprise.name.as_alias("n")).where(
            ProjectUnit.id.is_in(ids))
        return {r["id"]: r["n"] for r in rows}
    if kind == "team":
        rows = await Team.select(Team.id, Team.name).where(Team.id.is_in(ids))
        return {r["id"]: r["name"] for r in rows}
    if kind in ("worker", "worker_entry", "worker_exit"):
        rows = await RosterEntry.select(RosterEntry.id, RosterEntry.person.name.as_alias("n")).where(
            RosterEntry.id.is_in(ids))
        return {r["id"]: r["n"] for r in rows}
    if kind == "contract":
        rows = await LabourContract.select(LabourContract.id, LabourContract.person.name.as_alias("n")).where(
            LabourContract.id.is_in(ids))
        return {r["id"]: f"{r['n']}的劳动合同" for r in rows}
    if kind == "attendance":
        rows = await Punch.select(Punch.id, Punch.captured_at, Punch.person.name.as_alias("n")).where(
            Punch.id.is_in(ids))
        return {r["id"]: f"{r['n'] or '—'} {local_time(r['captured_at'])}" for r in rows}
    return {}


# --- Upload states ---------------------------------------------------------------------------------------------


async def set_state(kind: str, entity_id: int, state: str, *, reason: str | None = None,
                    platform_id: str | None = None, project_id: int | None = None,
                    district_id: int | None = None) -> None:
    """Upsert the entity's upload state (``succeeded`` also marks it as known to the platform for good)."""
    now = datetime.now(UTC)
    values: dict[Any, Any] = {UploadEntityState.state: state, UploadEntityState.reason: reason,
                              UploadEntityState.updated_at: now}
    if platform_id is not None:
        values[UploadEntityState.platform_id] = platform_id
    if state == UploadState.succeeded:
        values[UploadEntityState.ever_succeeded] = True
    if project_id is not None:
        values[UploadEntityState.project_id] = project_id
    if district_id is not None:
        values[UploadEntityState.district_id] = district_id
    key = open_key(kind, entity_id)
    updated = await UploadEntityState.update(values).where(UploadEntityState.entity_key == key).returning(
        UploadEntityState.id)
    if not updated:
        await UploadEntityState.insert(UploadEntityState(
            entity_key=key, kind=kind, entity_id=entity_id, project_id=project_id, district_id=district_id,
            state=state, reason=reason, platform_id=platform_id, ever_succeeded=state == UploadState.succeeded,
            updated_at=now,
        )).on_conflict(target=UploadEntityState.entity_key, action="DO NOTHING")


async def get_state(kind: str, entity_id: int) -> dict[str, Any] | None:
    return await UploadEntityState.select().where(UploadEntityState.entity_key == open_key(kind, entity_id)).first()


async def states_of(kind: str, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """entity id → {state, label, reason, updated}; entities without a row are 未上传."""
    ids = sorted(set(ids))
    found: dict[int, dict[str, Any]] = {}
    for i in range(0, len(ids), 500):
        for r in await UploadEntityState.select(
            UploadEntityState.entity_id, UploadEntityState.state, UploadEntityState.reason,
            UploadEntityState.updated_at,
        ).where((UploadEntityState.kind == kind) & UploadEntityState.entity_id.is_in(ids[i:i + 500])):
            found[r["entity_id"]] = r
    out: dict[int, dict[str, Any]] = {}
    for i in ids:
        r = found.get(i) or {"state": UploadState.not_uploaded, "reason": None, "updated_at": None}
        out[i] = {"state": r["state"], "label": UPLOAD_STATE_ZH[r["state"]], "why": r["reason"] or "",
                  "updated": local_time(r["updated_at"]), "kind": kind, "id": i,
                  "retry": r["state"] == UploadState.failed}
    return out


async def retry_upload(kind: EntityKind, entity_id: int) -> None:
    """重新上传 (one click on a 上传失败 entity, after the data was fixed): a new task for it."""
    if kind not in ENTITY_KINDS:
        raise invalid("kind", "未知的上传类型", "Unknown upload kind")
    project_id = await project_of_entity(kind, entity_id)
    if project_id is None:
        raise NotFound(f"{KIND_ZH.get(kind, kind)}不存在", "Entity not found")
    async with write_transaction():
        await enqueue(kind, entity_id, "update", project_id=project_id)
        await set_state(kind, entity_id, UploadState.uploading, reason="已重新提交，等待发送", project_id=project_id)


async def project_of_entity(kind: EntityKind, entity_id: int) -> int | None:
    """The entity's project; for a kind whose rows live above this package (payroll), the project its upload
    state was recorded under (it has one once the uploader saw it)."""
    info = await entity_info(kind, entity_id)
    if info is not None:
        return info.project_id
    row = await UploadEntityState.select(UploadEntityState.project_id).where(
        UploadEntityState.entity_key == open_key(kind, entity_id)).first()
    return row["project_id"] if row else None


# --- Project qualification (seed 001 §2.3 项目合格规则) -----------------------------------------------------------

# 3.当前项目下1%在职人员均处于上传成功状态: ``Rules.qualified_people_uploaded_share`` of the project's district.


@dataclass(slots=True)
class UploadQualification:
    project_ok: bool  # the project and all its units in the field are 上传成功
    teams_ok: bool  # every team in the field is 上传成功
    people_ok: bool  # ≥ 1 % of the people on the roster are 上传成功
    people_uploaded: int
    problems: list[str]

    @property
    def qualified(self) -> bool:
        return self.project_ok and self.teams_ok and self.people_ok


async def _succeeded(kind: str, ids: list[int]) -> set[int]:
    out: set[int] = set()
    for i in range(0, len(ids), 500):
        out |= {r["entity_id"] for r in await UploadEntityState.select(UploadEntityState.entity_id).where(
            (UploadEntityState.kind == kind) & (UploadEntityState.state == UploadState.succeeded)
            & UploadEntityState.entity_id.is_in(ids[i:i + 500]))}
    return out


async def upload_qualification(project_ids: Iterable[int], active_entries: dict[int, list[int]]
                               ) -> dict[int, UploadQualification]:
    """The three conditions of seed 001 §2.3 from the real upload states.  ``active_entries``: project → its
    roster entries on the roster today (the caller's roster predicate)."""
    ids = sorted(set(project_ids))
    if not ids:
        return {}
    units = await ProjectUnit.select(ProjectUnit.id, ProjectUnit.project).where(
        ProjectUnit.project.is_in(ids) & ProjectUnit.exited_on.is_null())
    teams = await Team.select(Team.id, Team.project, Team.name).where(
        Team.project.is_in(ids) & Team.exited_on.is_null())
    ok_projects = await _succeeded("project", ids)
    ok_units = await _succeeded("project_unit", [u["id"] for u in units])
    ok_teams = await _succeeded("team", [t["id"] for t in teams])
    ok_people = await _succeeded("worker", [e for es in active_entries.values() for e in es])
    by_project: dict[int, dict[str, list[Any]]] = defaultdict(lambda: {"units": [], "teams": []})
    for u in units:
        by_project[u["project"]]["units"].append(u["id"])
    for t in teams:
        by_project[t["project"]]["teams"].append(t)
    out: dict[int, UploadQualification] = {}
    for pid in ids:
        problems: list[str] = []
        if pid not in ok_projects:
            problems.append("项目未上传成功")
        bad_units = [u for u in by_project[pid]["units"] if u not in ok_units]
        if bad_units:
            problems.append(f"参建单位未上传成功：{len(bad_units)} 家")
        bad_teams = [t["name"] for t in by_project[pid]["teams"] if t["id"] not in ok_teams]
        if bad_teams:
            problems.append("班组未上传成功：" + "、".join(bad_teams[:5]) + ("等" if len(bad_teams) > 5 else ""))
        entries = active_entries.get(pid, [])
        uploaded = sum(1 for e in entries if e in ok_people)
        need = math.ceil(len(entries) * (await rules_for_project(pid)).qualified_people_uploaded_share - 1e-9)
        people_ok = uploaded >= need
        if not people_ok:
            problems.append(f"在职人员上传成功不足 {need} 人（1%）：{uploaded}/{len(entries)} 人")
        out[pid] = UploadQualification(project_ok=pid in ok_projects and not bad_units, teams_ok=not bad_teams,
                                       people_ok=people_ok, people_uploaded=uploaded, problems=problems)
    return out


# --- The result page (seed 001 §2.9 上传省厅结果查询) ----------------------------------------------------------------

PAGE_SIZE = 50


@dataclass(frozen=True, slots=True)
class ResultFilter:
    project_ids: set[int] | None  # the caller's scope (None = all)
    district_id: int | None = None
    project_id: int | None = None
    kind: str | None = None
    state: str | None = UploadState.failed  # the page opens on 上传失败 (seed 001 §2.9)
    day: date | None = None  # last change on this day (China time)
    page: int = 1


def _where(f: ResultFilter) -> Any:
    where: Any = UploadEntityState.id > 0
    if f.project_ids is not None:
        where &= UploadEntityState.project_id.is_in(sorted(f.project_ids) or [-1])
    if f.district_id is not None:
        where &= UploadEntityState.district_id == f.district_id
    if f.project_id is not None:
        where &= UploadEntityState.project_id == f.project_id
    if f.kind:
        where &= UploadEntityState.kind == f.kind
    if f.day is not None:
        start = datetime(f.day.year, f.day.month, f.day.day, tzinfo=UTC) - timedelta(hours=8)  # China midnight
        where &= (UploadEntityState.updated_at >= start) & (UploadEntityState.updated_at < start + timedelta(days=1))
    return where


async def search_results(f: ResultFilter) -> dict[str, Any]:
    """Rows of the result page (one entity each, newest change first), their total and counts per state."""
    base = _where(f)
    counts = {r["state"]: r["count"] for r in await UploadEntityState.select(
        UploadEntityState.state, Count()).where(base).group_by(UploadEntityState.state)}
    where = base & (UploadEntityState.state == f.state) if f.state else base
    total = sum(c for s, c in counts.items() if not f.state or s == f.state)
    page = max(1, f.page)
    rows = await UploadEntityState.select().where(where).order_by(
        UploadEntityState.updated_at, ascending=False).order_by(UploadEntityState.id, ascending=False).limit(
        PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
    names: dict[str, dict[int, str]] = {}
    for kind in {r["kind"] for r in rows}:
        names[kind] = await entity_names(kind, [r["entity_id"] for r in rows if r["kind"] == kind])
    projects = {r["id"]: r["name"] for r in await Project.select(Project.id, Project.name).where(
        Project.id.is_in(sorted({r["project_id"] for r in rows if r["project_id"]}) or [-1]))}
    out = [{
        "kind": r["kind"], "kind_label": KIND_ZH.get(r["kind"], r["kind"]), "id": r["entity_id"],
        "name": names.get(r["kind"], {}).get(r["entity_id"], f"#{r['entity_id']}"),
        "project": projects.get(r["project_id"], ""), "project_id": r["project_id"], "state": r["state"],
        "state_label": UPLOAD_STATE_ZH[r["state"]], "why": r["reason"] or "", "updated": local_time(r["updated_at"]),
        "retry": r["state"] == UploadState.failed,
    } for r in rows]
    return {"rows": out, "total": total, "counts": {s: counts.get(s, 0) for s in UPLOAD_STATE_ZH},
            "page": page, "pages": max(1, -(-total // PAGE_SIZE))}


async def task_counts() -> dict[str, int]:
    """Outbox tasks by state (the CLI and the benchmark)."""
    return {r["state"]: r["count"] for r in await UploadTask.select(UploadTask.state, Count()).group_by(
        UploadTask.state)}


async def open_task_count() -> int:
    return await UploadTask.count().where(UploadTask.state.is_in(list(OPEN_STATES)))


async def enterprise_states(enterprise_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """An enterprise's upload state on the lists (seed 001: 企业基本信息): the worst of its project units' states
    (上传失败 > 等待上级 > 上传中/处理中 > 未上传 > 上传成功); 未上传 when it is on no project."""
    ids = sorted(set(enterprise_ids))
    units = await ProjectUnit.select(ProjectUnit.id, ProjectUnit.enterprise).where(
        ProjectUnit.enterprise.is_in(ids or [-1]))
    states = await states_of("project_unit", [u["id"] for u in units])
    rank = [UploadState.failed, UploadState.waiting_parent, UploadState.uploading, UploadState.processing,
            UploadState.not_uploaded, UploadState.succeeded]
    worst: dict[int, str] = {}
    done: dict[int, list[int]] = {e: [0, 0] for e in ids}  # enterprise → [上传成功, project units]
    for u in units:
        s = states[u["id"]]["state"]
        done[u["enterprise"]][0] += s == UploadState.succeeded
        done[u["enterprise"]][1] += 1
        cur = worst.get(u["enterprise"])
        if cur is None or rank.index(s) < rank.index(cur):  # type: ignore[arg-type]
            worst[u["enterprise"]] = s
    return {e: {"state": worst.get(e, UploadState.not_uploaded),
                "label": UPLOAD_STATE_ZH[worst.get(e, UploadState.not_uploaded)], "why": "", "kind": "enterprise",
                "id": e, "retry": False, "detail": f"{done[e][0]}/{done[e][1]} 个参建记录上传成功"} for e in ids}
