"""Code lists of the organisation domain, with their Chinese labels."""

from __future__ import annotations

# The codes and their Chinese are in backend/vocabulary.py; these names stay importable.
from backend.vocabulary import (
    PROJECT_CATEGORY_ZH,
    PROJECT_STATUS_ZH,
    TEAM_KIND_ZH,
    UNIT_TYPE_ZH,
    ProjectStatus,
    UnitType,
)

# Project status (seed 000 §三 "筹备、在建、竣工、完工、停工"; national code table 001 筹备 … 005 停工).
PROJECT_STATUS: dict[str, str] = PROJECT_STATUS_ZH

# Allowed transitions.  A suspension is lifted by going back to under_construction (复工, seed 004 §三(十));
# 完工 → 竣工 is the acceptance; 竣工 is final.  Going back to 筹备 is never allowed once work started
# (seed 000 §三 forbids changing a status to escape supervision: 擅自变更项目状态逃避监管).
_S = ProjectStatus
STATUS_TRANSITIONS: dict[str, frozenset[str]] = {
    _S.preparing: frozenset({_S.under_construction}),
    _S.under_construction: frozenset({_S.suspended, _S.finished}),
    _S.suspended: frozenset({_S.under_construction, _S.finished}),
    _S.finished: frozenset({_S.accepted, _S.under_construction}),
    _S.accepted: frozenset(),
}

PROJECT_CATEGORY: dict[str, str] = PROJECT_CATEGORY_ZH

UNIT_TYPE: dict[str, str] = UNIT_TYPE_ZH

# Name of the management team made automatically for each unit (seed 001 §2.6.1: 管理人员班组
# "根据参建单位所属类型将自动产生").
MANAGEMENT_TEAM_NAME: dict[str, str] = {
    UnitType.owner: "建设单位项目部",
    UnitType.general_contractor: "总承包单位项目部",
    UnitType.supervision_firm: "监理项目部",
    UnitType.specialist_subcontractor: "专业分包项目部",
    UnitType.labour_subcontractor: "劳务分包项目部",
}

TEAM_KIND: dict[str, str] = TEAM_KIND_ZH
