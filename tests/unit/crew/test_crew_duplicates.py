"""Duplicate rules of crew registration, pure parts: the in-process 1:N matrix (rules.face_duplicate_tolerance,
own person excluded, version/age staleness), the import's per-row checks, and the OCR text parsers.
"""

from __future__ import annotations

from datetime import date

import numpy as np

from backend.crew import ocr
from backend.crew import validation as v
from backend.crew.faceindex import FaceMatrix
from backend.crew.xlsx import HEADERS, read_rows, template_bytes
from backend.face.service import encoding_to_bytes
from backend.rules import DEFAULT_RULES
from backend.validators import id_check_char


def _unit(rng: np.random.Generator) -> np.ndarray:
    x = rng.normal(size=128)
    return x / np.linalg.norm(x)


def test_same_face_under_another_person_is_found_within_tolerance():
    rng = np.random.default_rng(1)
    people = {pid: _unit(rng) for pid in range(1, 201)}
    m = FaceMatrix()
    m.load(3, [(pid, encoding_to_bytes(e)) for pid, e in people.items()], now=0.0)
    probe = people[42] + 0.02 * _unit(rng)  # the same face, a new photo
    hits = m.search_within(encoding_to_bytes(probe), DEFAULT_RULES.face_duplicate_tolerance)
    assert hits[0][0] == 42 and hits[0][1] < 0.05
    assert m.search_within(encoding_to_bytes(probe), DEFAULT_RULES.face_duplicate_tolerance, exclude=42) == []
    stranger = _unit(rng)
    assert m.search_within(stranger, DEFAULT_RULES.face_duplicate_tolerance) == []


def test_hits_are_sorted_and_limited():
    base = np.zeros(128)
    base[0] = 1.0
    rows = []
    for pid, d in ((1, 0.3), (2, 0.1), (3, 0.2), (4, 0.9)):
        e = base.copy()
        e[1] = d
        rows.append((pid, encoding_to_bytes(e)))
    m = FaceMatrix()
    m.load(1, rows, now=0.0)
    hits = m.search_within(base, 0.45)
    assert [h[0] for h in hits] == [2, 3, 1]
    assert len(m.search_within(base, 0.45, limit=1)) == 1


def test_matrix_is_stale_when_the_version_moves_or_it_is_old():
    m = FaceMatrix()
    assert not m.is_current(0, 300, now=0.0)  # never loaded
    m.load(5, [], now=100.0)
    assert m.is_current(5, 300, now=200.0)
    assert not m.is_current(6, 300, now=200.0)
    assert not m.is_current(5, 300, now=401.0)
    assert len(m) == 0 and m.search_within(np.zeros(128), 0.5) == []


def test_invalid_template_blobs_are_skipped():
    m = FaceMatrix()
    m.load(1, [(1, b"short"), (2, encoding_to_bytes(np.ones(128) / 12))], now=0.0)
    assert list(m.ids) == [2]


# ------------------------------------------------------------------------------ import rows

def _id(birth: date, seq: int) -> str:
    first = f"440703{birth:%Y%m%d}{seq:03d}"
    return first + id_check_char(first)


TEAMS = {
    "钢筋班组": [v.TeamRef(1, 10, "钢筋班组", "worker", "general_contractor", "总包公司", True)],
    "总承包单位项目部": [v.TeamRef(2, 10, "总承包单位项目部", "management", "general_contractor", "总包公司", True)],
    "木工班组": [v.TeamRef(3, 10, "木工班组", "worker", "general_contractor", "总包公司", True),
                 v.TeamRef(4, 11, "木工班组", "worker", "labour_subcontractor", "劳务公司", True)],
    "旧班组": [v.TeamRef(5, 10, "旧班组", "worker", "general_contractor", "总包公司", False)],
}
TODAY = date(2026, 6, 1)


def check(**kw):
    raw = {"name": "王五", "id_number": _id(date(1988, 2, 3), 111), "team": "钢筋班组", "work_role": "建筑工人",
           "work_type": "钢筋工"}
    raw.update(kw)
    return v.check_import_row(7, raw, TEAMS, DEFAULT_RULES, TODAY, HEADERS)


def test_a_good_row():
    row, errs = check()
    assert errs == [] and row is not None
    assert row.team.id == 1 and row.work_type == "020" and row.entered_on == TODAY and row.row == 7


def test_every_problem_of_a_row_is_reported_with_its_column():
    _, errs = check(phone="12", work_role="老板", entered_on="2099-01-01")
    cols = {e["column"] for e in errs}
    assert {"手机号", "人员类型", "进场日期"} <= cols
    assert all(e["row"] == 7 and e["message"] and e["message_en"] for e in errs)


def test_team_rules():
    assert check(team="")[1][0]["column"] == "班组"
    assert "请填写参建单位" in check(team="木工班组")[1][0]["message"]
    row, errs = check(team="木工班组", unit="劳务公司")
    assert errs == [] and row.team.id == 4
    assert "已退场" in check(team="旧班组")[1][0]["message"]
    row, errs = check(team="总承包单位项目部", work_role="管理人员", post="安全员", work_type=None)
    assert errs == [] and row.post == "safety_officer"
    assert check(team="总承包单位项目部")[1][0]["column"] == "人员类型"


def test_id_rules_in_rows():
    n = _id(date(1988, 2, 3), 111)
    assert check(id_number=n[:17] + ("0" if n[17] != "0" else "1"))[1][0]["code"] == "id_check_digit"
    assert check(gender="女")[1][0]["column"] == "性别"
    assert check(birth_date="1988-02-04")[1][0]["column"] == "出生日期"
    assert check(id_valid_from="2010-01-01", id_valid_until="2020-01-01")[1][0]["code"] == "id_expired"
    assert check(id_valid_from="2016-01-01", id_valid_until="长期")[1][0]["code"] == "invalid_validity"


def test_template_reads_back_with_no_rows():
    import pytest

    from backend.errors import InvalidInput

    with pytest.raises(InvalidInput) as e:
        read_rows(template_bytes(), 100)
    assert e.value.code == "empty_xlsx"


# ------------------------------------------------------------------------------ OCR parsers

FRONT = """姓名 张 三
性别 男  民族 汉
出生 1985 年 3 月 7 日
住址 广东省江门市蓬江区
某某路 12 号
公民身份号码 44070319850307123X
"""
BACK = """中华人民共和国
居民身份证
签发机关 江门市公安局蓬江分局
有效期限 2016.05.01-2036.05.01
"""


def test_ocr_front_and_back_parsers():
    f = ocr.parse_front_text(FRONT)
    assert f == {"id_number": "44070319850307123X", "name": "张三", "gender": "M", "ethnicity": "汉",
                 "birth_date": "1985-03-07", "address": "广东省江门市蓬江区某某路12号"}
    b = ocr.parse_back_text(BACK)
    assert b == {"issuer": "江门市公安局蓬江分局", "id_valid_from": "2016-05-01", "id_valid_until": "2036-05-01"}
    assert ocr.parse_back_text("有效期限 2010.01.02-长期")["id_long_term"] == "1"
    assert ocr.parse_front_text("nothing here") == {}
