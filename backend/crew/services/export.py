"""Roster export to .xlsx (masked or full ID numbers) and the full-ID access log."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from backend.accounts.services import CurrentUser, require_project, visible_project_ids
from backend.crew import xlsx
from backend.crew.services.common import EDITOR_ROLES, REVIEWER_ROLES
from backend.crew.services.roster import roster
from backend.crew.tables import IdAccessLog, Registration
from backend.crypto import decrypt_text
from backend.db import write_transaction
from backend.errors import Forbidden
from backend.org import services as org
from backend.validators import ETHNICITY, clean_text
from backend.vocabulary import IdAccessKind, RegistrationStatus, Role, local_today
from backend.workforce import id_access
from backend.workforce.dictionaries import POSTS, WORK_ROLE, WORK_TYPES
from backend.workforce.tables import Person

log = logging.getLogger("smz.crew")

# Roles that may export full ID numbers (security issue item 10): the project's own staff (劳务员 keep the
# real-name files), the district's supervisor, the administrator.  Foremen and enterprise accounts get masked
# numbers only.  Every full-ID export is written to id_access_log with its reason.
FULL_ID_ROLES = frozenset({Role.project_staff, Role.supervisor, Role.admin})
FULL_ID_REASON_MAX = 200


async def export_roster(user: CurrentUser, project_id: int, *, full_id: bool = False,
                        reason: str = "") -> tuple[str, bytes]:
    await require_project(user, project_id)
    if user.role not in EDITOR_ROLES | REVIEWER_ROLES:
        raise Forbidden("当前角色不能导出花名册", "Your role may not export the roster")
    if full_id:
        if user.role not in FULL_ID_ROLES:
            raise Forbidden("仅项目管理人员、主管部门和系统管理员可导出完整身份证号",
                            "Only project staff, the district's supervisor and administrators may export full ID numbers",
                            code="full_id_forbidden")
        reason = clean_text(reason, "reason", "导出完整身份证号的用途", max_len=FULL_ID_REASON_MAX, required=True) or ""
    project = await org.get_project(project_id)
    view = await roster(user, project_id, active_only=False)
    pids = sorted({r["person"] for r in view})
    people: dict[int, dict[str, Any]] = {}

    async def read_people() -> None:
        for i in range(0, len(pids), 900):
            for p in await Person.select(
                Person.id, Person.id_cipher, Person.id_masked, Person.gender, Person.birth_date, Person.ethnicity,
                Person.phone, Person.address, Person.id_issuer, Person.id_valid_until,
            ).where(Person.id.is_in(pids[i:i + 900])):
                people[p["id"]] = p

    if full_id:
        # the read of the numbers and its log entry: one transaction (no full-ID export without its record)
        async with write_transaction():
            await read_people()
            await id_access.log_access(user, project_id=project_id, kind=IdAccessKind.roster_export,
                                       person_ids=pids, reason=reason, records=len(view))
    else:
        await read_people()
    regs = {r["person"]: r for r in await Registration.select(
        Registration.person, Registration.id_valid_from, Registration.id_long_term).where(
        (Registration.project == project_id) & (Registration.status == RegistrationStatus.completed))}
    def rows() -> Iterable[dict[str, Any]]:
        for r in view:
            p = people[r["person"]]
            reg = regs.get(r["person"], {})
            yield {
                "name": r["name"], "id_number": decrypt_text(p["id_cipher"]) if full_id else p["id_masked"],
                "gender": "男" if p["gender"] == "M" else "女", "birth_date": p["birth_date"],
                "ethnicity": ETHNICITY.get(p["ethnicity"], p["ethnicity"]), "phone": p["phone"],
                "address": p["address"], "issuer": p["id_issuer"], "id_valid_from": reg.get("id_valid_from"),
                "id_valid_until": "长期" if reg.get("id_long_term") else p["id_valid_until"],
                "unit": r["unit_name"], "team": r["team_name"], "work_role": WORK_ROLE[r["work_role"]],
                "post": POSTS.get(r["post"] or "", None), "work_type": WORK_TYPES.get(r["work_type"] or "", None),
                "entered_on": r["entered_on"], "status": "已退场" if r["exited_on"] else "在场",
                "exited_on": r["exited_on"], "enrolled": r["enrolled"], "contract": r["contract_label"],
            }

    data = await asyncio.to_thread(lambda: xlsx.export_bytes(project["name"], rows(), full_id=full_id))
    log.info("roster of project %s exported by user %s (%d rows, full_id=%s)", project_id, user.id, len(view), full_id)
    return f"roster-{project_id}-{local_today():%Y%m%d}.xlsx", data


async def id_access_log(user: CurrentUser, project_id: int | None = None, limit: int = 500) -> list[dict[str, Any]]:
    """The full-ID access log: the district supervisor sees their district's projects, an admin all."""
    if user.role not in REVIEWER_ROLES:
        raise Forbidden("仅主管部门和系统管理员可查看身份证号访问记录",
                        "Only supervisors and administrators may read the ID access log", code="role_forbidden")
    ids = await visible_project_ids(user)
    if project_id is not None:
        await require_project(user, project_id)
    q = IdAccessLog.select(
        IdAccessLog.id, IdAccessLog.user_id, IdAccessLog.username, IdAccessLog.role, IdAccessLog.project,
        IdAccessLog.project.name.as_alias("project_name"), IdAccessLog.kind, IdAccessLog.records,
        IdAccessLog.reason, IdAccessLog.accessed_at,
    ).order_by(IdAccessLog.id, ascending=False).limit(max(1, min(limit, 5000)))
    if project_id is not None:
        q = q.where(IdAccessLog.project == project_id)
    elif ids is not None:
        if not ids:
            return []
        q = q.where(IdAccessLog.project.is_in(sorted(ids)))
    return await q


