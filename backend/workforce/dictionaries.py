"""Code lists of the workforce domain."""

from __future__ import annotations

from backend.vocabulary import WORK_ROLE_ZH, WorkRole

WORK_ROLE: dict[str, str] = WORK_ROLE_ZH  # backend/vocabulary.py
# National data standard work_role codes (DESIGN glossary: manager 10, worker 20).
WORK_ROLE_CODE: dict[str, int] = {WorkRole.manager: 10, WorkRole.worker: 20}

# Key posts: seed 000 §五 (six posts) and seed 001 (总监理工程师).
KEY_POSTS: dict[str, str] = {
    "project_manager": "项目负责人（项目经理）",
    "technical_lead": "技术负责人",
    "quality_officer": "质量员",
    "safety_officer": "安全员",
    "construction_officer": "施工员",
    "labour_officer": "劳务员",
    "chief_supervising_engineer": "总监理工程师",
}
# Posts of the supervision firm; the other key posts belong to the contractor's management team.
SUPERVISION_POSTS = frozenset({"chief_supervising_engineer", "supervising_engineer", "supervisor_assistant"})

POSTS: dict[str, str] = {
    **KEY_POSTS,
    "supervising_engineer": "专业监理工程师",
    "supervisor_assistant": "监理员",
    "material_officer": "材料员",
    "document_officer": "资料员",
    "other_manager": "其他管理人员",
}

# Work types of the national construction worker data standard (建筑工人工种; a common subset).
WORK_TYPES: dict[str, str] = {
    "010": "砌筑工", "020": "钢筋工", "030": "架子工", "040": "混凝土工", "050": "模板工",
    "060": "机械设备安装工", "070": "通风工", "080": "安装起重工", "090": "安装钳工",
    "100": "电气设备安装调试工", "110": "管道工", "120": "变电安装工", "130": "建筑电工",
    "140": "司泵工", "150": "挖掘铲运和桩工机械司机", "160": "桩机操作工", "170": "起重信号工",
    "180": "建筑起重机械安装拆卸工", "190": "装饰装修工", "200": "室内成套设施安装工",
    "210": "建筑门窗幕墙安装工", "220": "幕墙制作工", "230": "防水工", "240": "木工", "250": "石工",
    "270": "电焊工", "280": "爆破工", "290": "除尘工", "300": "测量放线工", "310": "线路架设工",
    "900": "其他",
}
