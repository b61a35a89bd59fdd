"""Plain-Chinese reasons of the phone app's result screen (backend/clockin/pages.py)."""

from __future__ import annotations

import shutil

from backend.clockin import pages
from backend.clockin.pages import SHELL, STATIC_DIR, reason_texts, shell_version
from backend.rules import DEFAULT_RULES


def test_outside_the_fence_says_how_far():
    assert reason_texts({"reasons": ["outside_fence"], "flags": [], "fence_distance_m": 120.4}) == [
        "不在电子围栏内，距离 120 米"]
    assert reason_texts({"reasons": ["outside_fence"], "flags": [], "fence_distance_m": 2345.0}) == [
        "不在电子围栏内，距离 2.3 公里"]


def test_late_upload_names_the_seconds_and_the_limit():
    (text,) = reason_texts({"reasons": [], "flags": ["late_upload"], "latency_s": 42.2, "source": "mobile"})
    # the limit is written out (seed 000 附件3 §三.4: 30 s), not formatted from the rule the code formats too
    assert DEFAULT_RULES.mobile_max_latency_s == 30
    assert text == "上传超时：拍摄 42 秒后才上传（限 30 秒），已记录，待复核"


def test_late_gate_punch_names_the_gate_limit_seed002_attachment1_2_17():
    """Issue 14 item 10: a gate punch 6 s late showed "限 30 秒"; the limit is the punch source's (gate 5 s)."""
    (text,) = reason_texts({"reasons": [], "flags": ["late_upload"], "latency_s": 6.0, "source": "gate"})
    assert text == "上传超时：拍摄 6 秒后才上传（限 5 秒），已记录，待复核"
    view = pages._punch_view({"reasons": [], "flags": ["late_upload"], "latency_s": 6.0, "source": "gate",
                              "verdict": "flagged"}, "Asia/Shanghai")
    assert view["late"] is True and view["latency_limit_s"] == 5.0
    phone = pages._punch_view({"reasons": [], "flags": [], "latency_s": 6.0, "source": "mobile",
                               "verdict": "accepted"}, "Asia/Shanghai")
    assert phone["late"] is False  # 6 s is within the phone's 30 s


def test_low_accuracy_names_the_limit():
    (text,) = reason_texts({"reasons": ["low_gps_accuracy"], "flags": [], "accuracy_m": 250.0})
    assert "±250 米" in text and "不超过 100 米" in text


def test_unknown_codes_are_shown_not_dropped():
    assert reason_texts({"reasons": ["something_new"], "flags": ["offline_challenge"]}) == [
        "something_new", "离线打卡，未经服务器活体挑战（可信度较低）"]


def test_shell_files_exist_and_the_version_follows_their_content(tmp_path, monkeypatch):
    for rel in SHELL.values():
        assert (STATIC_DIR / rel).is_file(), rel
    v = shell_version()
    assert len(v) == 16
    # a copy of the shell gives the same version; changing one byte of one file gives a new one
    for rel in [*SHELL.values(), "sw.js"]:
        if (STATIC_DIR / rel).is_file():
            (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(STATIC_DIR / rel, tmp_path / rel)
    monkeypatch.setattr(pages, "STATIC_DIR", tmp_path)
    assert shell_version() == v
    with open(tmp_path / SHELL["/static/js/clock.js"], "ab") as f:
        f.write(b"\n")
    assert shell_version() != v
