"""Shared by the crew services: roles, the face-service seam, the editor check, team scope, small helpers."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from backend.accounts.services import CurrentUser, require_project
from backend.errors import AppError, Forbidden
from backend.face.service import FaceService
from backend.org import services as org
from backend.rules import Rules
from backend.vocabulary import Role
from backend.workforce import services as workforce
from backend.workforce.tables import RosterEntry

log = logging.getLogger("smz.crew")


# Roles that register people (within their projects) and roles that review faces.
EDITOR_ROLES = frozenset({Role.admin, Role.foreman, Role.project_staff, Role.enterprise})
REVIEWER_ROLES = frozenset({Role.admin, Role.supervisor})


def face_service(app_face: FaceService) -> FaceService:
    """The face service a tablet step uses: the app's (``AppServices.face``, handed in by the handler).  A
    seam for tests that stand in for the camera (they wrap the app's service)."""
    return app_face


def _json_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str):
        return list(json.loads(value or "[]"))
    return list(value)


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


async def _editor(user: CurrentUser, project_id: int) -> Rules:
    if user.role not in EDITOR_ROLES:
        raise Forbidden("当前角色不能登记人员", "Your role may not register people", code="role_forbidden")
    await require_project(user, project_id, write=True)
    return await org.rules_for_project(project_id)


async def require_editor(user: CurrentUser, project_id: int) -> Rules:
    """The crew editor's check (role and write access to the project), for callers that must run it before
    anything else — e.g. the exit's wage-settlement look-up, which must not tell others what is owed."""
    return await _editor(user, project_id)


def _prefixed(err: AppError, zh_prefix: str, en_prefix: str, field: str) -> AppError:
    err.zh, err.en, err.field = f"{zh_prefix}{err.zh}", f"{en_prefix}{err.en}", field
    return err


async def team_people(user: CurrentUser, project_id: int) -> set[int] | None:
    """People on the roster of the teams the user may see (``workforce.team_scope``); None = everyone."""
    teams = await workforce.team_scope(user.role, user.person_id, project_id)
    if teams is None:
        return None
    if not teams:
        return set()
    rows = await RosterEntry.select(RosterEntry.person).where(
        (RosterEntry.project == project_id) & RosterEntry.team.is_in(sorted(teams)))
    return {r["person"] for r in rows}


