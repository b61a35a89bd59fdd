"""Users, passwords, tokens, login rate limiting, and the scope a user may see."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from backend.accounts.roles import ROLES
from backend.accounts.tables import AuthToken, User, UserDistrict, UserProject
from backend.crypto import DUMMY_PASSWORD_HASH, hash_password, verify_password
from backend.errors import Conflict, Forbidden, NotAuthenticated, RateLimited, invalid
from backend.org.tables import Project, ProjectUnit
from backend.settings import get_settings
from backend.validators import parse_phone
from backend.workforce.tables import RosterEntry


@dataclass(frozen=True, slots=True)
class CurrentUser:
    id: int
    username: str
    display_name: str
    role: str
    person_id: int | None = None
    enterprise_id: int | None = None
    vendor_id: int | None = None
    district_ids: frozenset[int] = field(default_factory=frozenset)
    must_change_password: bool = False

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def validate_password(password: str) -> None:
    if len(password) < 8:
        raise invalid("password", "密码至少 8 位", "Password must have at least 8 characters", code="weak_password")


async def create_user(
    username: str,
    password: str,
    role: str,
    *,
    display_name: str | None = None,
    phone: str | None = None,
    person_id: int | None = None,
    enterprise_id: int | None = None,
    vendor_id: int | None = None,
    district_ids: list[int] | None = None,
    project_ids: list[int] | None = None,
    must_change_password: bool = False,
) -> int:
    username = username.strip()
    if not username or len(username) > 64:
        raise invalid("username", "用户名不能为空且不超过 64 个字符", "Username must be 1–64 characters")
    if role not in ROLES:
        raise invalid("role", f"未知角色：{role}", f"Unknown role: {role}")
    validate_password(password)
    if await User.exists().where(User.username == username):
        raise Conflict("用户名已存在", "Username already exists", field="username")
    phone = parse_phone(phone)
    await _check_refs(enterprise_id, vendor_id, person_id, district_ids or [], project_ids or [])
    user = User(
        username=username,
        password_hash=hash_password(password),
        display_name=display_name or username,
        role=role,
        phone=phone,
        person=person_id,
        enterprise=enterprise_id,
        vendor=vendor_id,
        must_change_password=must_change_password,
    )
    from backend.db import write_transaction

    async with write_transaction():
        await user.save()
        for d in district_ids or []:
            await UserDistrict(user=user.id, district=d).save()
        for p in project_ids or []:
            await UserProject(user=user.id, project=p).save()
    return user.id


async def _check_refs(enterprise_id: int | None, vendor_id: int | None, person_id: int | None,
                      district_ids: list[int], project_ids: list[int]) -> None:
    """Referenced rows must exist: a clear 400 instead of a foreign-key failure (nothing stored)."""
    from backend.devices.tables import Vendor
    from backend.org.tables import District, Enterprise
    from backend.workforce.tables import Person

    checks = [
        ("enterprise_id", Enterprise, [enterprise_id] if enterprise_id is not None else [], "企业", "Enterprise"),
        ("vendor_id", Vendor, [vendor_id] if vendor_id is not None else [], "设备厂商", "Vendor"),
        ("person_id", Person, [person_id] if person_id is not None else [], "人员", "Person"),
        ("district_ids", District, district_ids, "区县", "District"),
        ("project_ids", Project, project_ids, "项目", "Project"),
    ]
    for field_name, table, ids, zh, en in checks:
        wanted = set(ids)
        if not wanted:
            continue
        found = {r["id"] for r in await table.select(table.id).where(table.id.is_in(sorted(wanted)))}
        missing = sorted(wanted - found)
        if missing:
            raise invalid(field_name, f"{zh}不存在：{missing}", f"{en} does not exist: {missing}")


async def grant_project(user_id: int, project_id: int) -> None:
    exists = await UserProject.exists().where((UserProject.user == user_id) & (UserProject.project == project_id))
    if not exists:
        await UserProject(user=user_id, project=project_id).save()


class LoginLimiter:
    """At most ``max_failures`` failed logins per username and per client address in a sliding window.

    In-process memory: a single server process is the deployment of this product; several processes
    would each count separately (documented in README).
    """

    def __init__(self, max_failures: int, window_s: float) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._fails: dict[str, deque[float]] = defaultdict(deque)

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self._fails[key]
        while q and now - q[0] > self.window_s:
            q.popleft()
        return q

    def _limit(self, key: str) -> int:
        # One address may be a site office or a TLS proxy in front of everyone: it gets a much larger budget
        # than one username, so one person's typos never lock out the others.
        return self.max_failures * 10 if key.startswith("ip:") else self.max_failures

    def check(self, *keys: str) -> None:
        now = time.monotonic()
        for key in keys:
            q = self._recent(key, now)
            if len(q) >= self._limit(key):
                wait = int(self.window_s - (now - q[0])) + 1
                raise RateLimited(
                    f"登录失败次数过多，请 {wait} 秒后再试",
                    f"Too many failed logins, try again in {wait} s",
                    extra={"retry_after_s": wait},
                )

    def failed(self, *keys: str) -> None:
        now = time.monotonic()
        for key in keys:
            self._recent(key, now).append(now)

    def succeeded(self, username_key: str) -> None:
        self._fails.pop(username_key, None)


_limiter: LoginLimiter | None = None


def limiter() -> LoginLimiter:
    global _limiter
    if _limiter is None:
        s = get_settings()
        _limiter = LoginLimiter(s.login_max_failures, s.login_window_s)
    return _limiter


async def authenticate(username: str, password: str, client: str) -> CurrentUser:
    keys = (f"user:{username.strip().lower()}", f"ip:{client}")
    limiter().check(*keys)
    row = await User.objects().where(User.username == username.strip()).first()
    ok = verify_password(row.password_hash if row else DUMMY_PASSWORD_HASH, password)
    if not row or not ok or not row.active:
        limiter().failed(*keys)
        raise NotAuthenticated("用户名或密码错误", "Wrong username or password", code="bad_credentials")
    limiter().succeeded(keys[0])
    return await load_user(row.id)


async def issue_token(user_id: int, kind: str, hours: int | None = None) -> str:
    token = secrets.token_urlsafe(32)
    hours = hours or (get_settings().session_hours if kind == "cookie" else 24 * 30)
    await AuthToken(
        token_hash=_token_hash(token),
        user=user_id,
        kind=kind,
        expires_at=datetime.now(UTC) + timedelta(hours=hours),
    ).save()
    return token


async def revoke_token(token: str) -> None:
    await AuthToken.delete().where(AuthToken.token_hash == _token_hash(token))


async def user_for_token(token: str) -> CurrentUser | None:
    row = (
        await AuthToken.select(AuthToken.user, AuthToken.expires_at)
        .where(AuthToken.token_hash == _token_hash(token))
        .first()
    )
    if not row:
        return None
    expires = row["expires_at"]
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    if expires < datetime.now(UTC):
        await revoke_token(token)
        return None
    return await load_user(row["user"])


async def load_user(user_id: int) -> CurrentUser:
    row = await User.objects().where(User.id == user_id).first()
    if row is None or not row.active:
        raise NotAuthenticated()
    districts = await UserDistrict.select(UserDistrict.district).where(UserDistrict.user == user_id)
    return CurrentUser(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        role=row.role,
        person_id=row.person,
        enterprise_id=row.enterprise,
        vendor_id=row.vendor,
        district_ids=frozenset(d["district"] for d in districts),
        must_change_password=row.must_change_password,
    )


async def change_password(user_id: int, old: str, new: str) -> None:
    row = await User.objects().where(User.id == user_id).first()
    if row is None or not verify_password(row.password_hash, old):
        raise invalid("old_password", "原密码错误", "Current password is wrong")
    validate_password(new)
    await User.update({User.password_hash: hash_password(new), User.must_change_password: False}).where(
        User.id == user_id
    )


# --- Scope: which projects a user may see -----------------------------------------------

async def visible_project_ids(user: CurrentUser) -> set[int] | None:
    """``None`` means every project (admin)."""
    if user.role == "admin":
        return None
    if user.role == "supervisor":
        if not user.district_ids:
            return set()
        rows = await Project.select(Project.id).where(Project.district.is_in(list(user.district_ids)))
        return {r["id"] for r in rows}
    if user.role == "enterprise":
        if user.enterprise_id is None:
            return set()
        rows = await ProjectUnit.select(ProjectUnit.project).where(ProjectUnit.enterprise == user.enterprise_id)
        ids = {r["project"] for r in rows}
    elif user.role == "worker":
        if user.person_id is None:
            return set()
        rows = await RosterEntry.select(RosterEntry.project).where(RosterEntry.person == user.person_id)
        return {r["project"] for r in rows}
    elif user.role == "vendor":
        # A vendor sees its devices (TerminalController), never the projects' people.
        return set()
    else:
        ids = set()
    rows = await UserProject.select(UserProject.project).where(UserProject.user == user.id)
    return ids | {r["project"] for r in rows}


async def person_project_ids(person_id: int) -> set[int]:
    rows = await RosterEntry.select(RosterEntry.project).where(RosterEntry.person == person_id)
    return {r["project"] for r in rows}


async def can_see_project(user: CurrentUser, project_id: int) -> bool:
    ids = await visible_project_ids(user)
    return ids is None or project_id in ids


# Roles that may change a project's data (roster, teams, units, terminals).
PROJECT_EDITORS = frozenset({"admin", "enterprise", "project_staff", "foreman"})


async def require_project(user: CurrentUser, project_id: int, *, write: bool = False) -> None:
    """404 when the project is outside the user's scope (its existence is not revealed); 403 when
    the user sees it but may not change it."""
    from backend.errors import NotFound

    if not await can_see_project(user, project_id):
        raise NotFound("项目不存在或无权查看", "Project not found or not in your scope", field="project_id")
    if write and user.role not in PROJECT_EDITORS:
        raise Forbidden("当前角色不能修改项目数据", "Your role may not change project data")
