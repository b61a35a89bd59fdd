"""Who may see and do what in wages (issue 16 item 6): foremen their teams' lines, project staff and enterprises
their projects, the district's supervisors everything in their district, a worker only their own pay."""

from __future__ import annotations

from backend.accounts.services import CurrentUser, require_project, visible_project_ids
from backend.errors import Forbidden
from backend.vocabulary import Role
from backend.workforce.services import team_scope

# Roles that keep a project's wage records (payroll, account registration, deposit, bank files).
KEEPERS = frozenset({Role.admin, Role.enterprise, Role.project_staff})
# Roles that read a project's wage records (foremen: their own teams only).
READERS = frozenset({*KEEPERS, Role.supervisor, Role.foreman})
# The district decides registrations of special accounts and keeps the bank list.
DISTRICT = frozenset({Role.admin, Role.supervisor})


async def can_read(user: CurrentUser, project_id: int) -> set[int] | None:
    """Raise unless the user reads the project's wages; the teams they may see (None = all)."""
    await require_project(user, project_id)
    if user.role not in READERS:
        raise Forbidden("当前角色不能查看项目工资信息", "Your role may not read the project's wage records",
                        code="role_forbidden")
    return await team_scope(user.role, user.person_id, project_id)


async def can_keep(user: CurrentUser, project_id: int) -> None:
    """Raise unless the user keeps the project's wage records (project staff, the project's enterprises)."""
    await require_project(user, project_id)
    if user.role not in KEEPERS:
        raise Forbidden("只有项目管理人员或企业人员可以维护工资信息", "Only project staff or the enterprise keep wage records",
                        code="role_forbidden")


async def can_decide(user: CurrentUser, project_id: int) -> None:
    """Raise unless the user is the project's district authority (or an admin)."""
    await require_project(user, project_id)
    if user.role not in DISTRICT:
        raise Forbidden("只有主管部门可以核准专户登记", "Only the district authority approves special accounts",
                        code="role_forbidden")


async def scope_projects(user: CurrentUser) -> set[int] | None:
    """Projects whose wages the user reads (None = all)."""
    if user.role not in READERS:
        return set()
    return await visible_project_ids(user)
