"""Demo of device onboarding (issue 20 A): the demo vendor's profile and its approved 考勤设备 scope, and one device
in each state of the access workflow (待审核, 测试环境授权, 正式环境授权, 待联网结果核查, 已办结)."""

from __future__ import annotations

from typing import Any

from backend.accounts.services import load_user
from backend.accounts.tables import User
from backend.onboarding import services
from backend.validators import uscc_check_char
from backend.vocabulary import AccessStatus, Role

DEMO_SERIALS: dict[str, str] = {
    AccessStatus.applied: "DEMO-ONB-01", AccessStatus.test: "DEMO-ONB-02", AccessStatus.production: "DEMO-ONB-03",
    AccessStatus.reported: "DEMO-ONB-04", AccessStatus.verified: "DEMO-ONB-05",
}


def _demo_uscc() -> str:
    first17 = "91440703MA5DEMW01"
    return first17 + uscc_check_char(first17)


async def seed(*, vendor_id: int, authority_user_id: int, district_id: int, project_id: int) -> dict[str, Any]:
    """The vendor ``vendor_id`` (through its first vendor account) completes its profile and gets 考勤设备 approved in ``district_id`` by
    ``authority_user_id``; then files five devices on ``project_id`` and the authority moves each one step further
    than the last.  Returns the application ids by state."""
    account = await User.select(User.id).where((User.vendor == vendor_id) & (User.role == Role.vendor)).order_by(
        User.id).first()
    if account is None:
        raise ValueError(f"demo vendor {vendor_id} has no vendor account")
    vendor = await load_user(account["id"])
    authority = await load_user(authority_user_id)
    await services.update_profile(vendor, {
        "uscc": _demo_uscc(), "contact_name": "陈工", "contact_phone": "13800000001", "address": "江门市蓬江区示例路 8 号",
        "legal_representative": "陈示例", "products": "人脸识别考勤机 SF-200、双目活体闸机终端 SF-300"})
    scope_id = await services.apply_scope(vendor, {"scope": "attendance_device", "district_id": district_id,
                                                   "note": "人脸识别考勤机及闸机终端，符合江门直连标准 V1.0"})
    await services.decide_scope(authority, scope_id, approve=True)
    ids: dict[str, int] = {}
    for n, (state, serial) in enumerate(DEMO_SERIALS.items(), start=1):
        app_id = await services.file_application(vendor, {
            "project_id": project_id, "device_type": "attendance_device", "serial": serial, "model": "SF-200",
            "install_position": f"{n} 号门人行通道", "capture_method": "fixed_terminal", "biometric_mode": "face",
            "channel": n, "direction": "in" if n % 2 else "out", "channels_planned": 1 if n == 1 else 3,
            "install_plan": "东门、南门、北门各一条通道（一进一出），闸机联动" if n > 1 else "东门一条通道（演示：少于参考通道数）",
        })
        ids[state] = app_id
        if state == AccessStatus.applied:
            continue
        await services.grant_test(authority, app_id, "测试环境：请使用测试凭据登录联调（演示）")
        if state == AccessStatus.test:
            continue
        await services.grant_production(authority, app_id, "正式环境：请使用厂家识别码登录（演示）")
        if state == AccessStatus.production:
            continue
        await services.report_hookup(vendor, app_id, "正式环境联调成功，考勤数据实时上传（演示）")
        if state == AccessStatus.reported:
            continue
        await services.verify(authority, app_id, "现场核查通过（演示）")
    return ids
