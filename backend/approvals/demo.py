"""Demo project applications (项目申报): one pending, one returned with a reason, one passed (its project exists,
with units, management teams and a project-staff account)."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from backend.accounts.services import load_user, reset_password
from backend.approvals import services
from backend.org.tables import Enterprise
from backend.validators import uscc_check_char
from backend.vocabulary import local_today

_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def _uscc(rng: random.Random, region: str) -> str:
    first17 = "91" + region + "".join(rng.choice(_USCC_CHARS) for _ in range(9))
    return first17 + uscc_check_char(first17)


async def demo_applications(*, applicant_user_id: int, authority_user_id: int, district_id: int,
                            staff_password: str | None = None, lon: float = 113.08, lat: float = 22.60,
                            seed: int = 20261202) -> dict[str, Any]:
    """Three applications of the enterprise user ``applicant_user_id`` in ``district_id``, decided by the supervisor
    ``authority_user_id``.  ``staff_password``: the passed project's staff account gets this password (still to be
    changed at first login) instead of the one-time one, so the demo can print it.  Returns the ids and the staff
    account's username."""
    rng = random.Random(seed)
    applicant = await load_user(applicant_user_id)
    authority = await load_user(authority_user_id)
    own = await Enterprise.select(Enterprise.name, Enterprise.uscc).where(
        Enterprise.id == applicant.enterprise_id).first()
    if own is None:
        raise ValueError("the applicant must be an enterprise user")
    region = own["uscc"][2:8]
    start = local_today() + timedelta(days=30)

    def form(name: str, permit: str, category: str, dlon: float, dlat: float) -> dict[str, Any]:
        return {
            "name": name, "permit_no": permit, "category": category, "district_id": district_id,
            "address": f"{name}项目用地", "lon": lon + dlon, "lat": lat + dlat,
            "planned_start": start.isoformat(), "planned_finish": (start + timedelta(days=540)).isoformat(),
            "floor_area_m2": 42_000 if category == "building" else None, "contract_value_yuan": 186_000_000,
            "applicant_name": "陈申报", "applicant_phone": "13800138000",
            "units": [
                {"name": own["name"], "uscc": own["uscc"], "unit_type": "general_contractor"},
                {"name": "江门市德衡工程监理有限公司（演示）", "uscc": _uscc(rng, region), "unit_type": "supervision_firm"},
            ],
        }

    pending = await services.submit_application(
        applicant, form("蓬江区北街小学扩建工程", "440703202612010201", "building", 0.01, 0.01))
    returned = await services.submit_application(
        applicant, form("蓬江区荷塘镇污水管网工程", "BJ-2026-0310", "municipal", -0.02, 0.015))
    await services.return_application(authority, returned, "报建编号与施工许可证不一致，请核对后补充施工许可证编号")
    passed_id = await services.submit_application(
        applicant, form("蓬江区江海人才公寓工程", "440703202611280305", "building", 0.015, -0.01))
    issued = await services.pass_application(authority, passed_id)
    staff_id = (await services.get_application(authority, passed_id))["staff_user"]
    if staff_password is not None and staff_id is not None:
        await reset_password(staff_id, staff_password, must_change=True)
    return {"pending": pending, "returned": returned, "passed": passed_id, "project_id": issued["project_id"],
            "staff_username": issued["username"]}
