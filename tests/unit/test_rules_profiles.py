"""Rule profiles (issue 14 item 7): one named set of backend/rules.py values per seed jurisdiction, and the
derived rules beside them (item 10).  Test names cite the seed clause they check."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import pytest

from backend.errors import InvalidInput
from backend.rules import (
    BASELINE,
    DEFAULT_RULES,
    PROFILE_CLAUSES,
    PROFILE_LABELS,
    PROFILES,
    check_profile,
    profile_label,
    rule_names,
    rules_for,
)
from backend.rules_catalog import RULE_DOCS, doc_table_block, rules_table_markdown

ROOT = Path(__file__).resolve().parents[2]

# --- The profiles ---------------------------------------------------------------------------------------------


def test_profiles_one_per_seed_jurisdiction_plus_the_baseline():
    assert set(PROFILES) == {BASELINE, "jiangxi", "jiangmen", "changde", "zhongshan"}
    assert PROFILES[BASELINE] is DEFAULT_RULES
    for name, rules in PROFILES.items():
        assert rules.profile == name
        assert PROFILE_LABELS[name] and profile_label(name) == PROFILE_LABELS[name]


def test_every_value_differing_from_the_baseline_cites_its_clause():
    for name, rules in PROFILES.items():
        differing = {f.name for f in dataclasses.fields(rules)
                     if f.name != "profile" and getattr(rules, f.name) != getattr(DEFAULT_RULES, f.name)}
        assert differing == set(PROFILE_CLAUSES.get(name, {})), name


def test_scope_seed001_s2_1_jiangmen_covers_a_1000_m2_permitted_project():
    assert PROFILES["jiangmen"].in_scope("building", 1_000, None) is True
    assert PROFILES["jiangmen"].in_scope("municipal", None, 500_000) is True
    assert PROFILES["jiangmen"].in_scope("building", None, None) is True


def test_scope_seed004_s2_1_zhongshan_does_not_cover_a_1000_m2_project():
    zs = PROFILES["zhongshan"]
    assert zs.in_scope("building", 1_000, None) is False
    assert zs.in_scope("building", 5_000, None) is True  # 含本数
    assert zs.in_scope("municipal", None, 10_000_000) is True
    assert zs.in_scope("municipal", None, 9_999_999) is False


def test_scope_seed000_s3_and_seed002_s2_cover_every_project():
    for name in ("jiangxi", "changde"):
        assert PROFILES[name].in_scope("building", 800, None) is True, name


def test_scope_label_names_the_rule_in_chinese():
    assert "5,000 平方米" in PROFILES["zhongshan"].scope_label()
    assert "1,000 万元" in PROFILES["zhongshan"].scope_label()
    assert "不论规模" in PROFILES["jiangmen"].scope_label()
    # the label follows a district's override of the threshold
    assert "3,000 平方米" in rules_for("zhongshan", {"scope_min_floor_area_m2": 3_000}).scope_label()


def test_manager_start_seed004_s4_1_zhongshan_planned_start_plus_10_days():
    zs = PROFILES["zhongshan"]
    # "拟开工日期起10天后": 10 days after 1 Mar, the 1st not counted (民法典 §201) → 2–11 Mar → from 12 Mar
    assert zs.manager_counting_start(date(2026, 3, 1), date(2026, 3, 20)) == date(2026, 3, 12)
    # no planned start recorded: the actual start stands in
    assert zs.manager_counting_start(None, date(2026, 3, 20)) == date(2026, 3, 31)
    assert zs.manager_counting_start(None, None) is None


def test_manager_start_seed001_s2_1_jiangmen_actual_start():
    jm = PROFILES["jiangmen"]
    assert jm.manager_counting_start(date(2026, 3, 1), date(2026, 3, 20)) == date(2026, 3, 20)
    assert jm.manager_counting_start(date(2026, 3, 1), None) is None  # not started yet: nothing counted
    assert "实际开工日期" in jm.manager_start_label()


def test_manager_start_seed000_s5_jiangxi_every_construction_day_no_grace():
    jx = PROFILES["jiangxi"]
    assert jx.manager_counting_start(date(2026, 9, 20), date(2026, 10, 1)) == date(2026, 10, 1)


def test_manager_start_seed002_changde_silent_inherits_the_baseline():
    cd = PROFILES["changde"]
    assert (cd.manager_start_base, cd.manager_attendance_start_offset_days) == ("planned_start", 10)


def test_manager_start_baseline_unchanged_planned_start_plus_10_days():
    assert DEFAULT_RULES.manager_start_base == "planned_start"
    assert DEFAULT_RULES.manager_counting_start(date(2026, 10, 5), None) == date(2026, 10, 16)  # 6–15 Oct, 民法典 §201


def test_profiles_silent_seeds_inherit_the_baseline_numbers():
    # seed 000 §五 80 % / 60 %, seed 000 附件3 §三.4 30 s, seed 002 附件1 §二(17) 5 s, seed 000 §三 5 days
    for rules in PROFILES.values():
        assert (rules.manager_valid_days_ratio, rules.manager_composite_on_duty_ratio) == (0.80, 0.60)
        assert (rules.max_latency_s("mobile"), rules.max_latency_s("gate")) == (30.0, 5.0)
        assert rules.warning_red_after_days == 5


# --- Choosing a profile ---------------------------------------------------------------------------------------


def test_rules_for_applies_overrides_on_top_of_the_profile():
    r = rules_for("jiangmen", {"manager_valid_days_ratio": 0.7})
    assert r.profile == "jiangmen" and r.scope_rule == "all_permitted" and r.manager_valid_days_ratio == 0.7


@pytest.mark.parametrize("name", ["", "Jiangmen", "guangzhou", "baseline "])
def test_unknown_profile_refused_bilingual(name):
    with pytest.raises(InvalidInput) as exc:
        check_profile(name)
    assert exc.value.field == "rule_profile" and exc.value.code == "unknown_rule_profile"
    assert "未知的判定规则" in exc.value.zh and "Unknown rule profile" in exc.value.en
    assert "jiangmen" in exc.value.en
    with pytest.raises(InvalidInput):
        rules_for(name)


def test_overrides_cannot_change_the_profile():
    with pytest.raises(InvalidInput) as exc:
        DEFAULT_RULES.with_overrides({"profile": "jiangmen"})
    assert exc.value.field == "rule_overrides.profile"


@pytest.mark.parametrize(("key", "good", "bad"), [
    ("scope_rule", "all_permitted", "everything"),
    ("manager_start_base", "actual_start", "start"),
])
def test_text_rules_overridable_with_known_values_only(key, good, bad):
    assert getattr(DEFAULT_RULES.with_overrides({key: good}), key) == good
    for value in (bad, 1, None):
        with pytest.raises(InvalidInput) as exc:
            DEFAULT_RULES.with_overrides({key: value})
        assert exc.value.field == f"rule_overrides.{key}"


def test_manager_start_offset_zero_allowed_seed001():
    assert DEFAULT_RULES.with_overrides({"manager_attendance_start_offset_days": 0}).manager_counting_start(
        date(2026, 1, 1), None) == date(2026, 1, 1)


# --- Item 11: numbers held only when something reads them -------------------------------------------------------


def test_start_date_extension_limits_seed004_s3_8():
    assert DEFAULT_RULES.start_date_extension_max_months == 3
    assert DEFAULT_RULES.start_date_extension_max_count == 2


@pytest.mark.parametrize("gone", ["device_repair_max_hours", "retention_years_after_completion",
                                  "device_removal_notice_days", "credit_points"])
def test_numbers_nothing_reads_are_not_held(gone):
    assert gone not in rule_names()


# --- docs/rules.md cannot drift from the code --------------------------------------------------------------------


def test_every_rule_is_documented_in_the_catalog():
    assert set(rule_names()) == set(RULE_DOCS), "add the new rule to backend/rules_catalog.py RULE_DOCS"


def test_docs_rules_table_matches_scripts_rules_table():
    doc = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    assert doc_table_block(doc) == rules_table_markdown(), (
        "docs/rules.md is out of date: run `uv run python scripts/rules_table.py --write`")


def test_yellow_turns_red_the_day_after_its_5_days_seed000_s3():
    # "予以黄灯预警，5日内不能整改到位的，将转为红灯预警": opened 22 Oct, the 5 days are 23–27 Oct (民法典 §201)
    assert DEFAULT_RULES.rectify_by(date(2026, 10, 22)) == date(2026, 10, 27)
    assert DEFAULT_RULES.red_on(date(2026, 10, 22)) == date(2026, 10, 28)
    assert DEFAULT_RULES.with_overrides({"warning_red_after_days": 3}).red_on(date(2026, 10, 30)) == date(2026, 11, 3)


def test_the_notification_names_the_last_day_to_rectify_seed000_s3():
    from backend.supervision.services.notifications import compose_message

    case = {"level": "yellow", "project_name": "某项目", "kind": "post_missing", "message": "未设置安全员",
            "opened_on": date(2026, 10, 22)}
    _, body = compose_message(case, DEFAULT_RULES)
    assert "5 日内（2026年10月27日 24 时前）整改到位" in body
