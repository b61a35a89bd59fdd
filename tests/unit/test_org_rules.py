"""Project status transitions (seed 000 §三, seed 004 §三(十)) and the organisation code lists."""

from __future__ import annotations

import itertools

import pytest

from backend.errors import Conflict, InvalidInput
from backend.org.dictionaries import (
    MANAGEMENT_TEAM_NAME,
    PROJECT_STATUS,
    STATUS_TRANSITIONS,
    UNIT_TYPE,
)
from backend.org.services import check_transition
from backend.workforce.dictionaries import KEY_POSTS, POSTS, SUPERVISION_POSTS, WORK_ROLE, WORK_ROLE_CODE

ALLOWED = [
    ("preparing", "under_construction"),  # 开工
    ("under_construction", "suspended"),  # 停工
    ("under_construction", "finished"),  # 完工
    ("suspended", "under_construction"),  # 复工 (seed 004 §三(十))
    ("suspended", "finished"),
    ("finished", "accepted"),  # 竣工验收
    ("finished", "under_construction"),  # rework after completion
]


@pytest.mark.parametrize(("current", "target"), ALLOWED)
def test_status_transition_allowed_seed004(current, target):
    check_transition(current, target)  # no exception


def test_status_transition_table_is_exactly_the_documented_one():
    table = {(a, b) for a, targets in STATUS_TRANSITIONS.items() for b in targets}
    assert table == set(ALLOWED)
    assert set(STATUS_TRANSITIONS) == set(PROJECT_STATUS)


FORBIDDEN = [(a, b) for a, b in itertools.product(PROJECT_STATUS, PROJECT_STATUS) if (a, b) not in ALLOWED]


@pytest.mark.parametrize(("current", "target"), FORBIDDEN)
def test_status_transition_forbidden_gives_409_with_allowed_list_seed000(current, target):
    with pytest.raises(Conflict) as exc:
        check_transition(current, target)
    err = exc.value
    assert err.status_code == 409
    assert err.code == "bad_status_transition"
    assert err.field == "status"
    assert PROJECT_STATUS[current] in err.zh and PROJECT_STATUS[target] in err.zh


@pytest.mark.parametrize("target", list(PROJECT_STATUS))
def test_status_accepted_is_final_seed004(target):
    with pytest.raises(Conflict) as exc:
        check_transition("accepted", target)
    assert "无" in exc.value.zh  # "可改为：无"


@pytest.mark.parametrize("current", ["under_construction", "suspended", "finished", "accepted"])
def test_status_never_back_to_preparing_once_started_seed000(current):
    with pytest.raises(Conflict):
        check_transition(current, "preparing")


@pytest.mark.parametrize("target", ["", "started", "完工", "ACCEPTED", "003"])
def test_status_unknown_target_is_invalid_input(target):
    with pytest.raises(InvalidInput) as exc:
        check_transition("under_construction", target)
    assert exc.value.field == "status"
    assert exc.value.status_code == 400


def test_status_labels_are_the_national_chinese_names():
    assert PROJECT_STATUS == {
        "preparing": "筹备",
        "under_construction": "在建",
        "suspended": "停工",
        "finished": "完工",
        "accepted": "竣工",
    }


def test_management_team_name_for_every_unit_type_seed001():
    assert set(MANAGEMENT_TEAM_NAME) == set(UNIT_TYPE)
    assert MANAGEMENT_TEAM_NAME["general_contractor"] == "总承包单位项目部"
    assert MANAGEMENT_TEAM_NAME["supervision_firm"] == "监理项目部"


def test_work_role_codes_manager_10_worker_20():
    assert WORK_ROLE_CODE == {"manager": 10, "worker": 20}
    assert set(WORK_ROLE) == set(WORK_ROLE_CODE)


def test_key_posts_six_of_seed000_and_chief_supervising_engineer_of_seed001():
    assert set(KEY_POSTS) == {
        "project_manager",
        "technical_lead",
        "quality_officer",
        "safety_officer",
        "construction_officer",
        "labour_officer",
        "chief_supervising_engineer",
    }
    assert set(KEY_POSTS) <= set(POSTS)
    assert SUPERVISION_POSTS <= set(POSTS)
