"""Code lists of the organisation domain, with their Chinese labels."""

from __future__ import annotations

# Project status (seed 000 §三 "筹备、在建、竣工、完工、停工"; national code table 001 筹备 … 005 停工).
PROJECT_STATUS: dict[str, str] = {
    "preparing": "筹备",
    "under_construction": "在建",
    "suspended": "停工",
    "finished": "完工",
    "accepted": "竣工",
}

# Allowed transitions.  A suspension is lifted by going back to under_construction (复工, seed 004 §三(十));
# 完工 → 竣工 is the acceptance; 竣工 is final.  Going back to 筹备 is never allowed once work started
# (seed 000 §三 forbids changing a status to escape supervision: 擅自变更项目状态逃避监管).
STATUS_TRANSITIONS: dict[str, frozenset[str]] = {
    "preparing": frozenset({"under_construction"}),
    "under_construction": frozenset({"suspended", "finished"}),
    "suspended": frozenset({"under_construction", "finished"}),
    "finished": frozenset({"accepted", "under_construction"}),
    "accepted": frozenset(),
}

PROJECT_CATEGORY: dict[str, str] = {"building": "房屋建筑工程", "municipal": "市政基础设施工程"}

UNIT_TYPE: dict[str, str] = {
    "owner": "建设单位",
    "general_contractor": "施工总承包单位",
    "supervision_firm": "监理单位",
    "specialist_subcontractor": "专业分包单位",
    "labour_subcontractor": "劳务分包单位",
}

# Name of the management team made automatically for each unit (seed 001 §2.6.1: 管理人员班组
# "根据参建单位所属类型将自动产生").
MANAGEMENT_TEAM_NAME: dict[str, str] = {
    "owner": "建设单位项目部",
    "general_contractor": "总承包单位项目部",
    "supervision_firm": "监理项目部",
    "specialist_subcontractor": "专业分包项目部",
    "labour_subcontractor": "劳务分包项目部",
}

TEAM_KIND: dict[str, str] = {"management": "管理人员班组", "worker": "普通工人班组", "other": "其他人员班组"}
