"""The password rule (security issue item 13): length >= 8, not a common password, not one character class,
not the username; and the login limiter's three budgets and the proxy-aware client address."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace
from typing import Any

import pytest

from backend.accounts.services import LoginLimiter, common_passwords, password_problem, validate_password
from backend.errors import InvalidInput


@pytest.mark.parametrize("password", ["12345678", "1234567890", "abcdefgh", "ABCDEFGHIJ", "zhangsanfeng", "!@#$%^&*"])
def test_password_of_one_character_class_is_refused(password: str) -> None:
    problem = password_problem(password)
    assert problem is not None and "两类" in problem[0] and "two of letters, digits and symbols" in problem[1]


@pytest.mark.parametrize("password", ["password1", "Password1", "P@ssw0rd", "qwer1234", "1qaz2wsx", "abc12345",
                                      "woaini1314", "qq123456", "a123456789", "#1stunna"])
def test_common_password_is_refused_in_any_case(password: str) -> None:
    problem = password_problem(password)
    assert problem is not None and "常见" in problem[0] and "too common" in problem[1]


def test_short_password_is_refused() -> None:
    assert password_problem("ab1!xyz") == ("密码至少 8 位", "Password must have at least 8 characters")


def test_username_as_password_is_refused_ignoring_case() -> None:
    problem = password_problem("Foreman2026", "foreman2026")
    assert problem == ("密码不能与用户名相同", "Password must not be the username")
    assert password_problem("Foreman2026", "someone-else") is None


@pytest.mark.parametrize("password", ["demo2026", "test-pass-2026", "auth-test-pass-1", "flow-pass-2026",
                                      "k7m2p9xq4z", "工地考勤2026", "correct horse battery"])
def test_demo_test_and_random_passwords_are_accepted(password: str) -> None:
    assert password_problem(password, "admin") is None


def test_validate_password_raises_bilingual_weak_password_on_the_password_field() -> None:
    with pytest.raises(InvalidInput) as e:
        validate_password("12345678")
    assert e.value.code == "weak_password" and e.value.field == "password" and e.value.zh and e.value.en


def test_common_password_list_is_shipped_with_a_few_thousand_entries() -> None:
    words = common_passwords()
    assert 4000 <= len(words) <= 20000
    assert all(w == w.lower() and len(w) >= 8 for w in words)
    assert not any(w.startswith("# ") for w in words)


def test_crew_initial_passwords_always_pass_the_rule() -> None:
    from backend.crew.services import initial_password

    for _ in range(300):
        assert password_problem(initial_password()) is None


# --- login limiter ------------------------------------------------------------------------------

def fail(lim: LoginLimiter, user: str, address: str, n: int = 1) -> None:
    for _ in range(n):
        lim.failed(*LoginLimiter.keys(user, address))


def blocked(lim: LoginLimiter, user: str, address: str) -> bool:
    try:
        lim.check(*LoginLimiter.keys(user, address))
    except Exception:
        return True
    return False


def test_limiter_blocks_a_username_at_one_address_after_max_failures_only_there() -> None:
    lim = LoginLimiter(5, 300, user_max_failures=20, address_max_failures=100)
    fail(lim, "Victim", "10.0.0.1", 5)
    assert blocked(lim, " victim ", "10.0.0.1")
    assert not blocked(lim, "victim", "10.0.0.2")
    assert not blocked(lim, "colleague", "10.0.0.1")


def test_limiter_caps_one_username_over_all_addresses() -> None:
    lim = LoginLimiter(5, 300, user_max_failures=20, address_max_failures=100)
    for i in range(4):
        fail(lim, "victim", f"10.0.1.{i}", 5)
    assert blocked(lim, "victim", "10.0.9.9")


def test_limiter_caps_one_address_spraying_many_usernames() -> None:
    lim = LoginLimiter(5, 300, user_max_failures=20, address_max_failures=100)
    for i in range(25):
        fail(lim, f"user{i}", "10.0.0.1", 4)
    assert blocked(lim, "anyone", "10.0.0.1")
    assert not blocked(lim, "anyone", "10.0.0.2")


def test_limiter_success_forgets_the_usernames_failures() -> None:
    lim = LoginLimiter(5, 300, user_max_failures=20, address_max_failures=100)
    fail(lim, "me", "10.0.0.1", 4)
    keys = LoginLimiter.keys("me", "10.0.0.1")
    lim.succeeded(keys[0], keys[1])
    fail(lim, "me", "10.0.0.1", 4)
    assert not blocked(lim, "me", "10.0.0.1")


def test_limiter_sweeps_stale_keys_when_it_grows() -> None:
    lim = LoginLimiter(5, 0.0)
    lim.MAX_KEYS = 10
    for i in range(20):
        fail(lim, f"u{i}", f"10.1.0.{i}")
    assert len(lim._fails) <= 10 + 3


# --- client address -------------------------------------------------------------------------------

class FakeHeaders:
    def __init__(self, xff: list[str]) -> None:
        self.xff = xff

    def getall(self, name: str, default: Any = None) -> list[str]:
        return self.xff if name == "x-forwarded-for" else (default or [])


def conn(peer: str, *xff: str) -> Any:
    return SimpleNamespace(client=SimpleNamespace(host=peer), headers=FakeHeaders(list(xff)))


@pytest.fixture
def trusting(monkeypatch: pytest.MonkeyPatch) -> Any:
    import backend.auth as auth
    from backend.settings import get_settings

    def use(*proxies: str) -> None:
        s = dataclasses.replace(get_settings(), trusted_proxies=proxies)
        monkeypatch.setattr(auth, "get_settings", lambda: s)

    return use


def test_client_address_ignores_x_forwarded_for_by_default(trusting: Any) -> None:
    from backend.auth import client_address

    trusting()
    assert client_address(conn("127.0.0.1", "203.0.113.5")) == "127.0.0.1"


def test_client_address_believes_only_configured_proxies_and_skips_trusted_hops(trusting: Any) -> None:
    from backend.auth import client_address

    trusting("10.0.0.0/8", "::1")
    assert client_address(conn("10.1.2.3", "198.51.100.7")) == "198.51.100.7"
    assert client_address(conn("10.1.2.3", "203.0.113.9, 198.51.100.7, 10.9.9.9")) == "198.51.100.7"
    assert client_address(conn("10.1.2.3", "203.0.113.9", "198.51.100.7:4431")) == "198.51.100.7"
    assert client_address(conn("::1", "[2001:db8::1]:443")) == "2001:db8::1"
    assert client_address(conn("192.0.2.1", "198.51.100.7")) == "192.0.2.1"  # not a proxy of ours
    assert client_address(conn("10.1.2.3")) == "10.1.2.3"


def test_uvicorn_gets_proxy_headers_only_from_configured_proxies() -> None:
    from backend.cli import uvicorn_proxy_options

    assert uvicorn_proxy_options(()) == {"proxy_headers": False}
    assert uvicorn_proxy_options(("10.0.0.1",)) == {"proxy_headers": True, "forwarded_allow_ips": ["10.0.0.1"]}


def test_trusted_proxies_setting_refuses_a_typo() -> None:
    from backend.settings import _trusted_proxies

    assert _trusted_proxies(" 10.0.0.1, 192.168.0.0/16 ") == ("10.0.0.1", "192.168.0.0/16")
    assert _trusted_proxies("") == ()
    with pytest.raises(SystemExit):
        _trusted_proxies("10.0.0.300")
