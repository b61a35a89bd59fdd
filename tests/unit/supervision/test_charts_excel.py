"""Inline SVG charts and .xlsx sheet names."""

from __future__ import annotations

from backend.supervision.charts import bar_chart, line_chart
from backend.supervision.excel import sheet_title


def test_line_chart_escapes_text_and_leaves_gaps_for_missing_days():
    svg = line_chart([("1日", 0.5), ("2日", None), ("3日", 0.8), ("4日", 0.9)], title="<到岗率>", threshold=0.6,
                     threshold_label="要求 60%")
    assert svg.startswith("<svg") and "&lt;到岗率&gt;" in svg and "<到岗率>" not in svg
    assert svg.count("<polyline") == 1  # the gap splits the line; a single point draws no segment
    assert "threshold" in svg and "要求 60%" in svg


def test_bar_chart_marks_suspended_days_and_handles_empty_input():
    svg = bar_chart([("1日", 3, ""), ("2日", 0, "suspended")], title="每日考勤")
    assert "停工" in svg and 'class="bar suspended"' in svg
    assert "暂无数据" in bar_chart([], title="空")


def test_sheet_titles_are_valid_and_unique():
    taken: set[str] = set()
    assert sheet_title("钢筋班组", taken) == "钢筋班组"
    assert sheet_title("钢筋班组", taken) == "钢筋班组(2)"
    assert sheet_title("a/b:c*d?[e]", taken) == "a_b_c_d__e_"
    long = sheet_title("很" * 40, taken)
    assert len(long) == 31
    assert len(sheet_title("很" * 40, taken)) == 31 and sheet_title("", taken) == "未命名"
