"""Pure checks of a roster entry (no database): shared by the roster API, the foreman tablet and the import."""

from __future__ import annotations

from backend.errors import invalid
from backend.vocabulary import TeamKind, WorkRole
from backend.workforce.dictionaries import POSTS, SUPERVISION_POSTS, WORK_ROLE, WORK_TYPES


def check_entry_fields(work_role: str, post: str | None, work_type: str | None) -> None:
    """Role, post and work type on their own (run first, before anything is stored)."""
    if work_role not in WORK_ROLE:
        raise invalid("work_role", "人员类型应为 manager（管理人员）或 worker（建筑工人）",
                      "work_role must be manager or worker")
    if post is not None and post not in POSTS:
        raise invalid("post", f"未知岗位：{post}", f"Unknown post: {post}")
    if work_role == WorkRole.manager and not post:
        raise invalid("post", "管理人员须选择岗位", "A manager needs a post")
    if work_role == WorkRole.worker and post:
        raise invalid("post", "建筑工人不设管理岗位，请填写工种", "Workers have a work type, not a post")
    if work_type is not None and work_type not in WORK_TYPES:
        raise invalid("work_type", f"未知工种代码：{work_type}", f"Unknown work type code: {work_type}")


def check_team_fit(work_role: str, post: str | None, team_kind: str, unit_type: str) -> None:
    """Managers into the management team, workers into worker teams, supervision posts in the supervision firm."""
    if work_role == WorkRole.manager and team_kind != TeamKind.management:
        raise invalid("team_id", "管理人员应进入管理人员班组", "Managers belong to the management team")
    if work_role == WorkRole.worker and team_kind == TeamKind.management:
        raise invalid("team_id", "建筑工人不能进入管理人员班组", "Workers cannot join a management team")
    if post in SUPERVISION_POSTS and unit_type != "supervision_firm":
        raise invalid("post", "监理岗位只能属于监理单位", "Supervision posts belong to the supervision firm")
