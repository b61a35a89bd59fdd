"""Users, passwords, tokens, login rate limiting, and the scope a user may see."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

from backend.accounts import principals
from backend.accounts.roles import ROLES
from backend.accounts.tables import AuthToken, User, UserDistrict, UserProject
from backend.crypto import DUMMY_PASSWORD_HASH, hash_password, verify_password
from backend.db import fetch, holds, in_list, write_transaction
from backend.devices.tables import Vendor
from backend.errors import Conflict, Forbidden, NotAuthenticated, NotFound, RateLimited, invalid
from backend.limits import FailureWindow
from backend.org.tables import District, Enterprise, Project
from backend.settings import get_settings
from backend.validators import parse_phone
from backend.vocabulary import Role
from backend.workforce.services import person_project_ids
from backend.workforce.tables import Person


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
        return self.role == Role.admin


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --- Password strength ----------------------------------------------------------------------------
# NIST SP 800-63B §5.1.1.2: at least 8 characters and not a known-compromised / common password; the
# project adds "not one character class only" and "not the username" (security issue item 13).
PASSWORD_MIN_LENGTH = 8
_COMMON_PASSWORDS_FILE = Path(__file__).resolve().parent / "common_passwords.txt"


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The shipped list (lower case; how it was made is in the file's header)."""
    lines = _COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(ln.strip().lower() for ln in lines if ln.strip() and not ln.startswith("# "))  # "#1stunna" is one


def _char_classes(password: str) -> int:
    """Letters (either case, any script), digits, everything else (symbols, spaces)."""
    return sum((
        any(c.isalpha() for c in password),
        any(c.isdigit() for c in password),
        any(not c.isalnum() for c in password),
    ))


def password_problem(password: str, username: str | None = None) -> tuple[str, str] | None:
    """Why ``password`` is too weak, as (zh, en); ``None`` when it is acceptable."""
    if len(password) < PASSWORD_MIN_LENGTH:
        return (f"密码至少 {PASSWORD_MIN_LENGTH} 位", f"Password must have at least {PASSWORD_MIN_LENGTH} characters")
    if username and password.strip().lower() == username.strip().lower():
        return "密码不能与用户名相同", "Password must not be the username"
    if _char_classes(password) < 2:
        return ("密码须包含字母、数字、符号中的至少两类", "Password must mix at least two of letters, digits and symbols")
    if password.lower() in common_passwords():
        return "该密码过于常见，容易被猜中，请换一个", "This password is too common and easy to guess; choose another"
    return None


def validate_password(password: str, username: str | None = None) -> None:
    problem = password_problem(password, username)
    if problem is not None:
        raise invalid("password", problem[0], problem[1], code="weak_password")


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
    validate_password(password, username)
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


class LoginLimiter(FailureWindow):
    """Failed logins in a sliding window, counted under three keys (numbers and reasons: backend.settings):

    - ``userip:<username>|<address>`` — ``max_failures``: one person's typos, then that username is blocked
      from that address;
    - ``user:<username>`` — ``user_max_failures``: guessing one account from many addresses;
    - ``ip:<address>`` — ``address_max_failures``: a generous ceiling for one address (an office NAT).

    A refused attempt is not counted, so hammering one username from a NAT adds at most ``max_failures``
    to the address's budget and cannot lock out the other people behind it.  In-process memory, one per app
    (``backend.runtime.AppServices.login_limiter``).  Several server processes (``smz serve --workers N``, or
    several nodes, on PostgreSQL) hold one count: ``share`` tells the others of each failure and success
    (``backend.accounts.shared_limits``, NOTIFY), and :meth:`heard` applies theirs.
    """

    MAX_KEYS = 50_000  # above this, keys with no failure inside the window are swept (memory stays bounded)

    def __init__(self, max_failures: int, window_s: float, *, user_max_failures: int | None = None,
                 address_max_failures: int | None = None) -> None:
        super().__init__(window_s)
        self.max_failures = max_failures
        self.user_max_failures = user_max_failures or max_failures * 4
        self.address_max_failures = address_max_failures or max_failures * 20
        # Told of every failure and success here ("failed" | "cleared", keys): the other processes' limiters.
        self.share: Callable[[str, tuple[str, ...]], None] | None = None

    def failed(self, *keys: str) -> None:
        super().failed(*keys)
        if self.share is not None:
            self.share("failed", keys)

    def heard(self, op: str, keys: tuple[str, ...]) -> None:
        """Another process's failure or success for these keys (not shared again)."""
        if op == "failed":
            super().failed(*keys)
        elif op == "cleared":
            self.clear(*keys)

    @staticmethod
    def keys(username: str, address: str) -> tuple[str, str, str]:
        name = username.strip().lower()
        return f"userip:{name}|{address}", f"user:{name}", f"ip:{address}"

    def _limit(self, key: str) -> int:
        if key.startswith("ip:"):
            return self.address_max_failures
        if key.startswith("user:"):
            return self.user_max_failures
        return self.max_failures

    def check(self, *keys: str) -> None:
        for key in keys:
            wait = self.retry_after(key, self._limit(key))
            if wait:
                raise RateLimited(
                    f"登录失败次数过多，请 {wait} 秒后再试",
                    f"Too many failed logins, try again in {wait} s",
                    extra={"retry_after_s": wait},
                )

    def succeeded(self, *keys: str) -> None:
        """The right password from this address: forget this username's failures (per address and overall)."""
        self.clear(*keys)
        if self.share is not None:
            self.share("cleared", keys)


async def authenticate(username: str, password: str, client: str, *, limiter: LoginLimiter) -> CurrentUser:
    """``client``: the client's address as backend.auth.client_address derives it (proxy-aware);
    ``limiter``: the app's login limiter (``backend.runtime.AppServices.login_limiter``)."""
    keys = LoginLimiter.keys(username, client)
    limiter.check(*keys)
    row = await User.objects().where(User.username == username.strip()).first()
    ok = verify_password(row.password_hash if row else DUMMY_PASSWORD_HASH, password)
    if not row or not ok or not row.active:
        limiter.failed(*keys)
        raise NotAuthenticated("用户名或密码错误", "Wrong username or password", code="bad_credentials")
    limiter.succeeded(keys[0], keys[1])
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
    await principals.invalidate_token(_token_hash(token))


async def revoke_sessions(user_id: int, *, keep_token: str | None = None) -> None:
    """End every cookie session and bearer token of the account (all but ``keep_token``, the caller's own
    current one, when it changes its own password).  Sessions are server-side rows, so they end now."""
    where = AuthToken.user == user_id
    if keep_token:
        where = where & (AuthToken.token_hash != _token_hash(keep_token))
    await AuthToken.delete().where(where)
    await principals.invalidate_user(user_id)


async def reset_password(user_id: int, new_password: str, *, must_change: bool = True) -> None:
    """Someone else sets the account's password (a foreman re-issuing a worker's initial password, an
    admin): every session and token of the account ends, and it must change the password at next use."""
    async with write_transaction():
        await User.update({User.password_hash: hash_password(new_password), User.must_change_password: must_change,
                           User.active: True}).where(User.id == user_id)
        await revoke_sessions(user_id)


async def set_user_active(user_id: int, active: bool) -> None:
    """Switch an account on or off.  Off: every session and token of it ends now (in every process)."""
    async with write_transaction():
        await User.update({User.active: active}).where(User.id == user_id)
        if not active:
            await revoke_sessions(user_id)
        else:
            await principals.invalidate_user(user_id)


async def user_for_token(token: str, cache: principals.PrincipalCache | None = None) -> CurrentUser | None:
    """The account a session cookie or bearer token belongs to; None when unknown or expired.  ``cache``: the
    app's who-is-asking cache (``AppServices.principals``), asked first and filled after a database read."""
    token_hash = _token_hash(token)
    generation = 0
    if cache is not None:
        hit = cache.get(token_hash)
        if hit is not None:
            return hit
        generation = cache.generation  # before the read: a change meanwhile keeps the answer out of the cache
    row = (
        await AuthToken.select(AuthToken.user, AuthToken.expires_at)
        .where(AuthToken.token_hash == token_hash)
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
    user = await load_user(row["user"])
    if cache is not None:
        cache.put(token_hash, user, expires, generation)
    return user


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


async def change_password(user_id: int, old: str, new: str, *, current_token: str | None = None) -> None:
    """The account changes its own password: every other session and token of it ends (a stolen cookie or
    a 30-day bearer token stops working); ``current_token``, the one making the change, stays valid."""
    row = await User.objects().where(User.id == user_id).first()
    if row is None or not verify_password(row.password_hash, old):
        raise invalid("old_password", "原密码错误", "Current password is wrong")
    validate_password(new, row.username)
    if new == old:
        raise invalid("password", "新密码不能与原密码相同", "The new password must differ from the current one",
                      code="weak_password")
    async with write_transaction():
        await User.update({User.password_hash: hash_password(new), User.must_change_password: False}).where(
            User.id == user_id
        )
        await revoke_sessions(user_id, keep_token=current_token)


# --- Scope: which projects a user may see -----------------------------------------------

async def visible_project_ids(user: CurrentUser) -> set[int] | None:
    """``None`` means every project (admin).  Fixed statements (``db.fetch``), like ``can_see_project``'s."""
    if user.role == Role.admin:
        return None
    if user.role == Role.supervisor:
        if not user.district_ids:
            return set()
        districts_in, args = in_list("district", sorted(user.district_ids))
        return {r["id"] for r in await fetch(f"SELECT id FROM project WHERE {districts_in}", *args)}
    if user.role == Role.enterprise:
        if user.enterprise_id is None:
            return set()
        ids = {r["project"] for r in await fetch("SELECT project FROM project_unit WHERE enterprise = {}",
                                                 user.enterprise_id)}
    elif user.role == Role.worker:
        if user.person_id is None:
            return set()
        return await person_project_ids(user.person_id)
    elif user.role == Role.vendor:
        # A vendor sees its devices (TerminalController), never the projects' people.
        return set()
    else:
        ids = set()
    rows = await fetch('SELECT project FROM user_project WHERE "user" = {}', user.id)
    return ids | {r["project"] for r in rows}


# The scope check as SQL: fixed text, one indexed look-up (``db.fetch``: on PostgreSQL prepared once per pooled
# connection) instead of a Piccolo query built on every request and every visible project read — the scope check was
# a third of a roster request's CPU (issue 18).  The same scope as ``visible_project_ids``.
_VIA_USER_PROJECT = 'EXISTS (SELECT 1 FROM user_project WHERE "user" = {} AND project = {})'
_VIA_UNIT = "EXISTS (SELECT 1 FROM project_unit WHERE enterprise = {} AND project = {})"
_VIA_ROSTER = "EXISTS (SELECT 1 FROM roster_entry WHERE person = {} AND project = {})"


def project_scope_sql(user: CurrentUser, project_id: int) -> tuple[str, tuple[int, ...]] | bool:
    """Whether ``user`` sees ``project_id`` (``visible_project_ids``): True or False when the role alone says it,
    else an SQL boolean expression (``{}`` placeholders) and its arguments — for ``can_see_project``, and for a
    read that asks it in the same statement as its own question (the roster: ``workforce.services
    .roster_snapshot``)."""
    role = user.role
    if role == Role.admin:
        return True
    if role == Role.vendor:
        return False
    if role == Role.supervisor:
        if not user.district_ids:
            return False
        districts_in, args = in_list("district", sorted(user.district_ids))
        return f"EXISTS (SELECT 1 FROM project WHERE id = {{}} AND {districts_in})", (project_id, *args)
    if role == Role.enterprise:
        if user.enterprise_id is None:
            return False
        return f"({_VIA_UNIT} OR {_VIA_USER_PROJECT})", (user.enterprise_id, project_id, user.id, project_id)
    if role == Role.worker:
        if user.person_id is None:
            return False
        return _VIA_ROSTER, (user.person_id, project_id)
    return _VIA_USER_PROJECT, (user.id, project_id)


async def can_see_project(user: CurrentUser, project_id: int) -> bool:
    """``project_id in visible_project_ids(user)`` (or an admin), asking only about this project."""
    scope = project_scope_sql(user, project_id)
    if isinstance(scope, bool):
        return scope
    return await holds(scope[0], *scope[1])


def project_not_found() -> NotFound:
    """The answer for a project outside the user's scope (its existence is not revealed)."""
    return NotFound("项目不存在或无权查看", "Project not found or not in your scope", field="project_id")


# Roles that may change a project's data (roster, teams, units, terminals).
PROJECT_EDITORS = frozenset({Role.admin, Role.enterprise, Role.project_staff, Role.foreman})


async def require_project(user: CurrentUser, project_id: int, *, write: bool = False) -> None:
    """404 when the project is outside the user's scope (its existence is not revealed); 403 when
    the user sees it but may not change it."""
    if not await can_see_project(user, project_id):
        raise project_not_found()
    if write and user.role not in PROJECT_EDITORS:
        raise Forbidden("当前角色不能修改项目数据", "Your role may not change project data")
