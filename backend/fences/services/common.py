"""Vocabulary, roles and small helpers of the fence services; the project look-up and access check."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import geofence
from backend.accounts.services import CurrentUser, require_project
from backend.errors import Forbidden, NotFound, invalid
from backend.org.tables import Project
from backend.vocabulary import FENCE_KIND_ZH, Role

log = logging.getLogger("smz.fences")

KINDS: dict[str, str] = FENCE_KIND_ZH  # backend/vocabulary.py
CRS_LABELS: dict[str, str] = {"wgs84": "WGS-84", "gcj02": "GCJ-02"}
EDITOR_ROLES = frozenset({Role.admin, Role.enterprise, Role.project_staff})
JUDGE_MAX_POINTS = 10_000

# Codes the fence check can put on a punch, in decide()'s order of precedence.
FENCE_REJECTIONS = ("invalid_coordinates", "invalid_accuracy", "no_fence", "low_gps_accuracy", "outside_fence")
FENCE_FLAGS = ("near_edge",)
CODE_ZH: dict[str, str] = {**geofence.REASON_ZH, "accepted": "围栏内（通过）"}
VERDICT_ZH = {"accepted": "通过", "flagged": "通过（待复核）", "rejected": "拒绝"}


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, (str, bytes)) else value


def _aware(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def _iso(dt: datetime | None) -> str | None:
    dt = _aware(dt)
    return dt.astimezone(UTC).isoformat() if dt is not None else None


def _check_crs(crs: str, field_name: str = "crs") -> str:
    if crs not in CRS_LABELS:
        raise invalid(field_name, "坐标系应为 wgs84（GPS/天地图）或 gcj02（高德/腾讯）",
                      "crs must be wgs84 or gcj02", code="invalid_crs")
    return crs


async def _project(project_id: int) -> dict[str, Any]:
    row = await Project.select(Project.id, Project.name, Project.lon, Project.lat, Project.timezone,
                               Project.planned_start, Project.actual_start).where(Project.id == project_id).first()
    if row is None:
        raise NotFound("项目不存在", "Project not found", field="project_id")
    return row


_MAX_ID = 2**63 - 1


async def check_access(user: CurrentUser, project_id: int, *, write: bool = False) -> None:
    """Everyone who sees the project reads its fences; admin, enterprise and project staff edit them."""
    if not 0 < project_id <= _MAX_ID:  # beyond a database integer: unknown, not a 500
        raise NotFound("项目不存在或无权查看", "Project not found or not in your scope", field="project_id")
    await require_project(user, project_id)
    if write and user.role not in EDITOR_ROLES:
        raise Forbidden("当前角色不能修改电子围栏（仅项目管理人员、企业人员可以）",
                        "Only project staff and enterprise users may change fences", code="role_forbidden")


