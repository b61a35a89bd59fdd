"""Pure rules of the devices domain: 852 refusal texts fit their field, ID validity reading, how an
outage's start is found, durations in Chinese."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from backend.devices.pages import duration_zh
from backend.devices.protocols.jiangmen import SHORT_REASONS, short_reason, validity_end
from backend.devices.services import STALE_ONLINE, offline_since
from backend.errors import invalid
from backend.rules import DEFAULT_RULES

NOW = datetime(2026, 11, 22, 8, 30, tzinfo=UTC)


@pytest.mark.parametrize("code", sorted(SHORT_REASONS))
def test_852_reasons_fit_the_30_byte_field_seed001_1_2_6(code):
    text = short_reason(invalid("x", "很长很长很长很长很长很长很长很长的说明", "long", code=code))
    assert text == SHORT_REASONS[code] and len(text.encode("utf-8")) <= 30


def test_age_reason_names_the_legal_minimum_and_fits():
    # the only age refusal is the minimum (劳动法 §15); no seed caps age (seed 000 §六), so no "too old" reason
    rules = DEFAULT_RULES.with_overrides({"worker_min_age": 18})
    young = short_reason(invalid("id_number", "…", "…", code="too_young"), rules, "M")
    assert young == "未满18周岁，不得采集" and len(young.encode()) <= 30


@pytest.mark.parametrize("text, end", [
    ("2020.01.01-2040.01.01", date(2040, 1, 1)),
    ("20150101-20350101", date(2035, 1, 1)),
    ("2015年01月01日-2035年01月01日", date(2035, 1, 1)),
    ("2015.01.01-长期", None),
    ("", None),
    ("2015.01.01-2035.02.30", None),
])
def test_id_cardvalidity_end(text, end):
    assert validity_end(text) == end


def row(**kw):
    base = {"online": False, "last_seen_at": None, "last_offline_at": None, "created_at": NOW - timedelta(days=10)}
    return {**base, **kw}


def test_online_and_recently_seen_is_no_outage():
    assert offline_since(row(online=True, last_seen_at=NOW - timedelta(minutes=3)), NOW) is None


def test_online_but_silent_longer_than_the_stale_limit_counts_from_its_last_sign():
    seen = NOW - STALE_ONLINE - timedelta(seconds=1)
    assert offline_since(row(online=True, last_seen_at=seen), NOW) == (seen, False)


def test_offline_counts_from_the_disconnect_and_never_seen_from_registration():
    off = NOW - timedelta(days=3)
    assert offline_since(row(last_seen_at=off - timedelta(minutes=1), last_offline_at=off), NOW) == (off, False)
    assert offline_since(row(), NOW) == (NOW - timedelta(days=10), True)


@pytest.mark.parametrize("delta, text", [
    (timedelta(seconds=20), "不到 1 分钟"),
    (timedelta(minutes=8), "8 分钟"),
    (timedelta(hours=3, minutes=12), "3 小时 12 分"),
    (timedelta(hours=5), "5 小时"),
    (timedelta(days=2, hours=5, minutes=9), "2 天 5 小时"),
    (timedelta(days=4), "4 天"),
])
def test_duration_in_chinese(delta, text):
    assert duration_zh(delta) == text
