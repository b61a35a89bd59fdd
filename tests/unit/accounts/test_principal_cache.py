"""The who-is-asking cache (backend/accounts/principals.py): TTL, token expiry, invalidation, and the rule that
an answer read while something changed is never stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from backend.accounts import principals
from backend.accounts.principals import PrincipalCache
from backend.accounts.services import CurrentUser


def user(uid: int = 7) -> CurrentUser:
    return CurrentUser(id=uid, username=f"u{uid}", display_name="测试", role="project_staff")


def later(hours: float = 1) -> datetime:
    return datetime.now(UTC) + timedelta(hours=hours)


@pytest.fixture(autouse=True)
def _sqlite(monkeypatch):
    monkeypatch.setattr(principals, "_is_postgres", lambda: False)


def test_a_stored_answer_is_returned_until_the_ttl():
    c = PrincipalCache(ttl_s=10, listen=False)
    c.put("h", user(), later(), c.generation)
    assert c.get("h") == user()
    c.ttl_s = 0.0000001
    assert c.get("h") is None  # too old (and a TTL of 0 turns the cache off)


def test_an_expired_token_is_never_answered_from_the_cache():
    c = PrincipalCache(ttl_s=10, listen=False)
    c.put("h", user(), datetime.now(UTC) - timedelta(seconds=1), c.generation)
    assert c.get("h") is None


def test_an_answer_read_before_an_invalidation_is_not_stored():
    c = PrincipalCache(ttl_s=10, listen=False)
    generation = c.generation  # the request starts reading the database
    c.drop_user(99)  # meanwhile some account changed
    c.put("h", user(), later(), generation)
    assert c.get("h") is None


def test_drop_user_forgets_every_token_of_that_account_only():
    c = PrincipalCache(ttl_s=10, listen=False)
    for h, uid in (("a", 1), ("b", 1), ("c", 2)):
        c.put(h, user(uid), later(), c.generation)
    c.drop_user(1)
    assert c.get("a") is None and c.get("b") is None and c.get("c") == user(2)


async def test_invalidation_reaches_every_cache_of_the_process():
    one, two = PrincipalCache(ttl_s=10, listen=False), PrincipalCache(ttl_s=10, listen=False)
    for c in (one, two):
        c.put("t", user(5), later(), c.generation)
    await principals.invalidate_user(5)
    assert one.get("t") is None and two.get("t") is None
    for c in (one, two):
        c.put("t", user(5), later(), c.generation)
    await principals.invalidate_token("t")
    assert one.get("t") is None and two.get("t") is None


def test_the_cache_is_bounded():
    c = PrincipalCache(ttl_s=10, max_entries=3, listen=False)
    for i in range(5):
        c.put(f"h{i}", user(i), later(), c.generation)
    assert len(c) == 3 and c.get("h0") is None and c.get("h4") == user(4)
