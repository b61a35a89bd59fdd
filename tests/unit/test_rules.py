"""Regulatory numbers of backend/rules.py: gate channels (seed 002), scope (seed 004), latency
(seeds 000/002), and per-district overrides."""

from __future__ import annotations

import dataclasses

import pytest

from backend.errors import InvalidInput
from backend.rules import DEFAULT_RULES, Rules, rule_names

# --- Gate channels: seed 002 §三(一)2 — 1 per started 30,000 m²; municipal 1 ----------------------


@pytest.mark.parametrize(
    ("area", "channels"),
    [
        (1, 1),
        (5_000, 1),
        (29_999, 1),
        (30_000, 1),
        (30_000.5, 2),
        (30_001, 2),
        (59_999, 2),
        (60_000, 2),
        (60_001, 3),
        (90_000, 3),
        (90_001, 4),
        (300_000, 10),
    ],
)
def test_channel_count_one_per_started_30000_m2_seed002(area, channels):
    assert DEFAULT_RULES.required_gate_channels("building", area) == channels


@pytest.mark.parametrize("area", [None, 0, 0.0, -10])
def test_channel_count_at_least_one_without_area_seed002(area):
    assert DEFAULT_RULES.required_gate_channels("building", area) == 1


@pytest.mark.parametrize("area", [None, 10_000, 30_001, 250_000])
def test_channel_count_municipal_works_one_channel_seed002(area):
    assert DEFAULT_RULES.required_gate_channels("municipal", area) == 1


def test_channel_count_follows_district_override_of_channel_area_seed002():
    rules = DEFAULT_RULES.with_overrides({"gate_channel_area_m2": 20_000})
    assert rules.required_gate_channels("building", 20_000) == 1
    assert rules.required_gate_channels("building", 20_001) == 2
    assert rules.required_gate_channels("building", 45_000) == 3


def test_channel_count_municipal_minimum_overridable_seed002():
    assert DEFAULT_RULES.with_overrides({"municipal_min_channels": 2}).required_gate_channels("municipal", None) == 2


def test_channel_area_override_of_zero_refused_seed002():
    with pytest.raises(InvalidInput):
        DEFAULT_RULES.with_overrides({"gate_channel_area_m2": 0})


# --- Scope: seed 004 §二(一) — building ≥ 5,000 m², municipal ≥ 10 million yuan (含本数) ------------


def test_scope_building_5000_m2_inclusive_seed004():
    assert DEFAULT_RULES.in_scope("building", 5_000, None) is True
    assert DEFAULT_RULES.in_scope("building", 4_999.99, None) is False
    assert DEFAULT_RULES.in_scope("building", 120_000, None) is True


def test_scope_building_without_area_is_out_of_scope_seed004():
    assert DEFAULT_RULES.in_scope("building", None, 50_000_000) is False


def test_scope_municipal_10_million_yuan_inclusive_seed004():
    assert DEFAULT_RULES.in_scope("municipal", None, 10_000_000) is True
    assert DEFAULT_RULES.in_scope("municipal", None, 9_999_999.99) is False
    assert DEFAULT_RULES.in_scope("municipal", 100_000, None) is False  # area does not count for municipal


def test_scope_thresholds_overridable_per_district_seed004():
    rules = DEFAULT_RULES.with_overrides({"scope_min_floor_area_m2": 3_000, "scope_min_contract_value_yuan": 5e6})
    assert rules.in_scope("building", 3_000, None)
    assert rules.in_scope("municipal", None, 5_000_000)


# --- Latency: seed 000 附件3 (phone ≤ 30 s), seed 002 附件1 (gate ≤ 5 s) ------------------------------


def test_max_latency_gate_5s_seed002():
    assert DEFAULT_RULES.max_latency_s("gate") == 5.0


def test_max_latency_mobile_30s_seed000():
    assert DEFAULT_RULES.max_latency_s("mobile") == 30.0


@pytest.mark.parametrize("source", ["makeup", "", "unknown"])
def test_max_latency_none_for_makeup_and_unknown_sources(source):
    assert DEFAULT_RULES.max_latency_s(source) is None


def test_max_latency_follows_override_seed002():
    assert DEFAULT_RULES.with_overrides({"gate_max_latency_s": 3}).max_latency_s("gate") == 3.0


# --- Other seed numbers as documented --------------------------------------------------------


def test_defaults_match_seed_numbers():
    r = Rules()
    assert r.manager_valid_days_ratio == 0.80  # seed 000 §五
    assert r.manager_composite_on_duty_ratio == 0.60  # seed 000 §五
    assert r.warning_red_after_days == 5  # seed 000 §三
    assert r.manager_attendance_start_offset_days == 10  # seed 004 §四(一)
    assert r.device_outage_max_days == 2  # seed 001 §六(十八)
    assert r.terminal_storage_min_days == 60  # seed 002 附件1
    assert r.gate_punch_photo_max_bytes == 50 * 1024  # seed 001 附件3 848
    assert r.gate_id_photo_max_bytes == 30 * 1024  # seed 001 附件3 852


# --- Overrides: names and types checked, unknown keys refused -----------------------------------


def test_overrides_empty_or_none_return_the_defaults():
    assert DEFAULT_RULES.with_overrides(None) is DEFAULT_RULES
    assert DEFAULT_RULES.with_overrides({}) is DEFAULT_RULES


def test_overrides_valid_value_applied_and_defaults_untouched():
    rules = DEFAULT_RULES.with_overrides({"manager_valid_days_ratio": 0.75, "warning_red_after_days": 7})
    assert rules.manager_valid_days_ratio == 0.75
    assert rules.warning_red_after_days == 7
    # every other field keeps its default, and the shared default object is unchanged
    for name in rule_names():
        if name not in ("manager_valid_days_ratio", "warning_red_after_days"):
            assert getattr(rules, name) == getattr(DEFAULT_RULES, name), name
    assert DEFAULT_RULES.manager_valid_days_ratio == 0.80
    assert DEFAULT_RULES.warning_red_after_days == 5
    assert Rules() == DEFAULT_RULES


def test_overrides_int_given_to_float_field_stored_as_float():
    rules = DEFAULT_RULES.with_overrides({"mobile_max_latency_s": 20})
    assert rules.mobile_max_latency_s == 20.0
    assert isinstance(rules.mobile_max_latency_s, float)


def test_overrides_unknown_key_refused_naming_the_key():
    with pytest.raises(InvalidInput) as exc:
        DEFAULT_RULES.with_overrides({"manager_valid_days_ratio": 0.7, "no_such_rule": 1})
    assert exc.value.field == "rule_overrides.no_such_rule"
    assert "no_such_rule" in exc.value.zh and "no_such_rule" in exc.value.en


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("manager_valid_days_ratio", "0.8"),
        ("manager_valid_days_ratio", None),
        ("manager_valid_days_ratio", [0.8]),
        ("manager_valid_days_ratio", True),
        ("warning_red_after_days", "5"),
        ("warning_red_after_days", True),
    ],
)
def test_overrides_wrong_type_refused(key, value):
    with pytest.raises(InvalidInput) as exc:
        DEFAULT_RULES.with_overrides({key: value})
    assert exc.value.field == f"rule_overrides.{key}"


@pytest.mark.parametrize("key", ["warning_red_after_days", "worker_min_age", "manager_attendance_start_offset_days"])
def test_overrides_int_field_given_float_refused(key):
    with pytest.raises(InvalidInput) as exc:
        DEFAULT_RULES.with_overrides({key: 5.5})
    assert exc.value.field == f"rule_overrides.{key}"


@pytest.mark.parametrize("key", ["manager_valid_days_ratio", "manager_composite_on_duty_ratio"])
def test_overrides_ratio_above_one_refused_seed000(key):
    with pytest.raises(InvalidInput) as exc:
        DEFAULT_RULES.with_overrides({key: 1.2})
    assert exc.value.field == f"rule_overrides.{key}"
    # the bounds themselves are fine
    assert getattr(DEFAULT_RULES.with_overrides({key: 1}), key) == 1.0
    assert getattr(DEFAULT_RULES.with_overrides({key: 0}), key) == 0.0


@pytest.mark.parametrize("key", ["gate_max_latency_s", "warning_red_after_days", "manager_valid_days_ratio"])
def test_overrides_negative_values_refused(key):
    with pytest.raises(InvalidInput) as exc:
        DEFAULT_RULES.with_overrides({key: -1})
    assert exc.value.field == f"rule_overrides.{key}"


def test_overrides_refusal_leaves_rules_unchanged():
    with pytest.raises(InvalidInput):
        DEFAULT_RULES.with_overrides({"warning_red_after_days": 9, "bogus": 1})
    assert DEFAULT_RULES.warning_red_after_days == 5


def test_rules_are_immutable():
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_RULES.gate_max_latency_s = 10  # type: ignore[misc]


def test_rule_names_lists_every_field():
    names = rule_names()
    assert "gate_channel_area_m2" in names and "manager_valid_days_ratio" in names
    assert len(names) == len(set(names)) == len(dataclasses.fields(Rules))
