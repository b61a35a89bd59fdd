"""Who may see what on the supervision pages: the user's project scope, narrowed by a project or district."""

from __future__ import annotations

from dataclasses import is_dataclass
from datetime import date
from typing import Any, TypeVar

from backend.accounts.services import CurrentUser, require_project, visible_project_ids
from backend.devices.services import SERIAL_ROLES, mask_serial
from backend.errors import Forbidden, NotFound, invalid
from backend.supervision import services
from backend.vocabulary import Role

# Readers of the supervision views (admin always passes the role guard).  Workers and vendors see none of it.
READ_ROLES = (Role.supervisor, Role.enterprise, Role.project_staff, Role.foreman)
AUTHORITY_ROLES = (Role.supervisor,)  # close / reopen warnings, notification settings, evaluations
# Keys under which the supervision views carry a terminal's serial (a string; ``terminal`` may also be an id).
SERIAL_KEYS = ("serial", "terminal_serial", "terminal")

T = TypeVar("T")


def hide_serials(user: CurrentUser, data: T) -> T:
    """Terminal serials masked for readers outside ``SERIAL_ROLES`` (foremen): the map, a project's day, the
    punch detail and the latency report show them, and a serial is half of a terminal's login."""
    if user.role not in SERIAL_ROLES:
        _mask(data)
    return data


def _mask(node: Any) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in SERIAL_KEYS and isinstance(value, str):
                node[key] = mask_serial(value)
            else:
                _mask(value)
    elif isinstance(node, list | tuple):
        for item in node:
            _mask(item)
    elif is_dataclass(node) and not isinstance(node, type):
        for key in SERIAL_KEYS:
            if isinstance(getattr(node, key, None), str):
                setattr(node, key, mask_serial(getattr(node, key)))


def require_district(user: CurrentUser, district_id: int) -> None:
    if user.role == Role.admin:
        return
    if user.role != Role.supervisor:
        raise Forbidden("只有主管部门可以操作区县设置", "Only the authority manages district settings",
                        code="role_forbidden")
    if district_id not in user.district_ids:
        raise NotFound("区县不存在或无权查看", "District not found or not in your scope", field="district_id")


async def scope(user: CurrentUser, *, project_id: int | None = None,
                district_id: int | None = None) -> set[int] | None:
    """Project ids the request may read (None = every project, admin only)."""
    if project_id is not None:
        await require_project(user, project_id)
        return {project_id}
    ids = await visible_project_ids(user)
    if district_id is not None:
        if user.role not in (Role.admin, Role.supervisor) or (user.role == Role.supervisor and district_id not in user.district_ids):
            raise NotFound("区县不存在或无权查看", "District not found or not in your scope", field="district_id")
        in_district = await services.project_ids_in_district(district_id)
        return in_district if ids is None else ids & in_district
    return ids


def scope_districts(user: CurrentUser) -> set[int] | None:
    return None if user.role == Role.admin else set(user.district_ids)


def day_range(day_from: date | None, day_to: date | None, *, max_days: int = 366) -> tuple[date, date]:
    today = services.local_today()
    first = day_from or today
    last = day_to or first
    if last < first:
        raise invalid("day_to", "结束日期早于开始日期", "End date is before start date")
    if (last - first).days >= max_days:
        raise invalid("day_to", f"日期范围不能超过 {max_days} 天", f"Date range must not exceed {max_days} days")
    return first, last
