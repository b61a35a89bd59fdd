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
    (text,) = reason_texts({"reasons": [], "flags": ["late_upload"], "latency_s": 42.2})
    assert text == f"上传超时：拍摄 42 秒后才上传（限 {DEFAULT_RULES.mobile_max_latency_s:.0f} 秒），已记录，待复核"


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
