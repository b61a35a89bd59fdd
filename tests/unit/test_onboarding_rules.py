"""Seed 002 §三(一)2 (channels of an install plan, 安装方案 §四.2) and the access states a production login 843 refuses
(issue 20 A.2)."""

from __future__ import annotations

import pytest

from backend.devices.terminals import NOT_VERIFIED_ZH, access_refusal
from backend.onboarding.rules_calc import channel_shortfall, channels_required
from backend.rules import DEFAULT_RULES
from backend.vocabulary import TerminalAccess


@pytest.mark.parametrize(("area", "channels"), [
    (0, 1), (1, 1), (29_999.9, 1),
    (30_000, 1),  # "小于 3 万 1 条；大于 3 万 2 条": exactly 30,000 is not more than 30,000
    (30_000.1, 2), (60_000, 2), (60_001, 3), (90_000, 3), (90_001, 4), (300_000, 10),
])
def test_one_channel_per_started_30000_m2_of_floor_area(area: float, channels: int) -> None:
    assert channels_required(area) == channels


def test_the_area_per_channel_is_the_rules_number() -> None:
    assert DEFAULT_RULES.gate_channel_area_m2 == 30_000
    halved = DEFAULT_RULES.with_overrides({"gate_channel_area_m2": 15_000})
    assert channels_required(30_000, halved) == 2


def test_a_short_plan_is_a_shortfall_and_a_missing_area_needs_one_channel() -> None:
    assert channel_shortfall(1, 45_000) == 1
    assert channel_shortfall(3, 45_000) == 0
    assert channel_shortfall(1, None) == 0


def test_only_applied_and_test_without_the_test_credential_are_refused_at_a_production_login() -> None:
    applied = access_refusal(TerminalAccess.applied, test_login=False)
    assert applied is not None and NOT_VERIFIED_ZH in applied.zh
    test = access_refusal(TerminalAccess.test, test_login=False)
    assert test is not None and NOT_VERIFIED_ZH in test.zh and "测试" in test.zh
    assert access_refusal(TerminalAccess.test, test_login=True) is None
    assert access_refusal(TerminalAccess.production, test_login=False) is None
    assert access_refusal(TerminalAccess.verified, test_login=False) is None
    assert access_refusal(None, test_login=False) is None


def test_the_test_credential_is_32_characters_of_the_vendor_code_alphabet_and_depends_on_the_terminal() -> None:
    from backend.devices.services import VENDOR_CODE_ALPHABET, terminal_test_code, terminal_test_code_matches

    a = terminal_test_code(1, "GATE-1", "hash-a")
    assert len(a) == 32 and set(a) <= set(VENDOR_CODE_ALPHABET)
    assert a == terminal_test_code(1, "GATE-1", "hash-a")
    assert a != terminal_test_code(2, "GATE-1", "hash-a") and a != terminal_test_code(1, "GATE-1", "hash-b")
    row = {"id": 1, "serial": "GATE-1", "vendor_code_hash": "hash-a"}
    assert terminal_test_code_matches(a, row)
    assert not terminal_test_code_matches(a[:-1] + ("2" if a[-1] != "2" else "3"), row)
