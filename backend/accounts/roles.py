"""Roles and who they are."""

from __future__ import annotations

ROLES: dict[str, str] = {
    "admin": "系统管理员",
    "supervisor": "主管部门监管人员",
    "enterprise": "企业人员",
    "project_staff": "项目管理人员",
    "foreman": "班组长/劳务员",
    "worker": "工人",
    "vendor": "设备厂商",
}
