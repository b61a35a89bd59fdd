"""Reason and flag codes of punch verdicts, with the Chinese the UI shows."""

from __future__ import annotations

REASON_ZH: dict[str, str] = {
    # rejections
    "not_on_roster": "不在本项目花名册中（未进场或已退场）",
    "unknown_person": "人员不存在",
    "not_enrolled": "尚未采集人脸，不能打卡",
    "face_mismatch": "人脸比对不通过",
    "liveness_failed": "活体检测未通过",
    "challenge_invalid": "活体挑战无效（已过期或已使用）",
    "outside_fence": "不在电子围栏内",
    "low_gps_accuracy": "定位精度不足",
    "invalid_coordinates": "定位坐标无效",
    "no_fence": "项目未设置电子围栏",
    "invalid_accuracy": "定位精度数据无效",
    "manager_makeup_forbidden": "管理人员不得补卡",
    "project_not_active": "项目未开工或已完工，不接受考勤",
    "bad_image": "照片无效",
    # flags (accepted, but marked for review)
    "late_upload": "上传超时",
    "clock_skew": "设备时间与服务器时间偏差过大",
    "near_edge": "位于围栏边缘（定位误差范围内）",
    "impossible_speed": "两次打卡之间移动速度异常",
    "repeated_coordinates": "定位坐标与之前完全相同",
    "suspicious_accuracy": "定位精度数值可疑",
    "swapped_lat_lon": "经纬度可能颠倒",
    "offline_challenge": "离线打卡，未经服务器活体挑战（可信度较低）",
    "project_suspended": "项目停工期间打卡",
    "makeup": "补卡（经主管部门批准）",
    "non_face_mode": "非人脸识别打卡（刷卡模式不是 6）",
}

VERDICT_ZH: dict[str, str] = {"accepted": "打卡成功", "flagged": "打卡成功（待复核）", "rejected": "打卡失败"}


def describe(codes: list[str] | tuple[str, ...]) -> str:
    return "；".join(REASON_ZH.get(c, c) for c in codes)
