"""The consent text (单独同意, PIPL §29; issue 20 B.1) says in plain words what is collected, why, for how long
(the district's retention years, seed 002 §三(二)2 / seed 004 §三(五): "工程竣工后 2 年"), who sees it and how to
withdraw; versions are looked up, never guessed; the access log's day range is the district's local days."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

import pytest

from backend.errors import InvalidInput
from backend.rules import DEFAULT_RULES
from backend.workforce import consent
from backend.workforce.id_access import _day_bounds


def test_the_current_text_names_what_why_how_long_who_and_how_to_withdraw() -> None:
    text = consent.consent_text()
    for part in ("采集什么", "人脸照片", "特征值", "为什么采集", "考勤", "保存多久", "谁能看到", "怎样撤回"):
        assert part in text, part
    assert f"工程竣工后保存 {DEFAULT_RULES.retention_years} 年" in text


def test_the_text_carries_the_districts_retention_years() -> None:
    longer = dataclasses.replace(DEFAULT_RULES, retention_years=5)
    assert "工程竣工后保存 5 年" in consent.consent_text(rules=longer)


def test_an_unknown_version_is_refused_with_a_code() -> None:
    with pytest.raises(InvalidInput) as e:
        consent.check_version("1999-01")
    assert e.value.code == "consent_version_unknown"
    assert consent.check_version(f" {consent.CURRENT_CONSENT_VERSION} ") == consent.CURRENT_CONSENT_VERSION
    assert consent.CURRENT_CONSENT_VERSION in consent.CONSENT_TEXTS


def test_the_refusal_is_a_bilingual_409_consent_missing() -> None:
    err = consent.refusal()
    assert err.status_code == 409 and err.code == "consent_missing" and "同意" in err.zh and "consent" in err.en


def test_the_access_logs_days_are_china_days() -> None:
    lo, hi = _day_bounds(date(2026, 12, 3), date(2026, 12, 3), "Asia/Shanghai")
    assert lo == datetime(2026, 12, 2, 16, 0, tzinfo=UTC) and hi == datetime(2026, 12, 3, 16, 0, tzinfo=UTC)
    with pytest.raises(InvalidInput):
        _day_bounds(date(2026, 12, 3), date(2026, 12, 1), "Asia/Shanghai")
