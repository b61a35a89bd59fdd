"""Money in integer fen end to end (issue 16 standards): parsing yuan as people and spreadsheets type it, the
float noise of a computed cell, refusals, totals; the special account's name (seed 002 专户 notes §一.1), account
and card numbers, masking; the reconciliation rules as pure functions."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from backend import money
from backend.errors import InvalidInput
from backend.rules import DEFAULT_RULES
from backend.wages.payroll import Attended, month_after
from backend.wages.reconcile import find_mismatches


@pytest.mark.parametrize(("typed", "fen"), [
    ("1234.5", 123450), ("1,234.56", 123456), ("¥12", 1200), ("0", 0), (Decimal("0.01"), 1), (300, 30000),
    (19.99, 1999), (0.1 + 0.2, 30), ("  88.80 ", 8880), ("12元", 1200),
])
def test_yuan_become_exact_fen(typed: object, fen: int) -> None:
    assert money.to_fen(typed) == fen


def test_float_noise_of_a_computed_cell_rounds_to_the_fen_but_a_third_decimal_is_refused() -> None:
    assert money.to_fen(1.1 * 3) == 330  # 3.3000000000000003: a computed cell
    assert money.to_fen(0.07 * 100 / 100) == 7
    for third_decimal in ("12.345", 2.675, Decimal("0.005")):
        with pytest.raises(InvalidInput) as e:
            money.to_fen(third_decimal)
        assert e.value.code == "amount_precision"


@pytest.mark.parametrize("bad", ["abc", "-1", "", None, "NaN", True, "1e400"])
def test_amounts_that_are_not_money_are_refused(bad: object) -> None:
    with pytest.raises(InvalidInput):
        money.to_fen(bad)


def test_yuan_text_is_two_decimals_from_fen_without_floats() -> None:
    assert money.yuan(123450) == "1234.50"
    assert money.yuan(1) == "0.01"
    assert money.yuan(0) == "0.00"
    assert money.yuan(-5) == "-0.05"
    assert money.yuan_grouped(123456789) == "1,234,567.89"


def test_totals_of_many_small_amounts_stay_exact() -> None:
    amounts = ["0.10"] * 1000 + ["0.20"] * 1000
    assert sum(money.to_fen(a) for a in amounts) == 30000
    assert money.yuan(sum(money.to_fen(a) for a in amounts)) == "300.00"


def test_payable_from_the_contract_day_month_and_piece_rates() -> None:
    assert money.payable_fen("day", 30000, 22) == 660000
    assert money.payable_fen("month", 800000, 3) == 800000
    assert money.payable_fen("month", 800000, 0) == 0
    assert money.payable_fen("piece", 100, 10) is None
    assert money.payable_fen("day", None, 10) is None


@pytest.mark.parametrize("name", [
    "测试总包有限公司农民工工资专户",  # enterprise name + suffix
    "测试总包农民工工资专户",  # abbreviation
    "甲区住宅工程项目部农民工工资专户",  # project department
    "住宅项目部农民工工资专户",  # abbreviated department
])
def test_account_name_is_enterprise_or_project_department_plus_the_fund_nature(name: str) -> None:
    assert money.account_name_problem(name, ["测试总包有限公司", "测试监理有限公司"], "甲区住宅工程") is None


@pytest.mark.parametrize("name", ["测试总包有限公司", "农民工工资专户", "别的公司农民工工资专户", "测试总包有限公司工资户"])
def test_account_name_without_the_suffix_or_of_another_company_is_refused(name: str) -> None:
    assert money.account_name_problem(name, ["测试总包有限公司"], "甲区住宅工程")


def test_account_and_card_numbers_are_digits_of_the_right_length_and_masked() -> None:
    assert money.check_account_no("4400 1234-5678 9012") == "440012345678" + "9012"
    for bad in ("1234567", "12345678901234567890123456789012X", "4400abc12345"):
        with pytest.raises(InvalidInput):
            money.check_account_no(bad)
    assert money.check_card_no("6222 0212 3456 7890") == "6222021234567890"
    with pytest.raises(InvalidInput):
        money.check_card_no("12345")
    assert money.mask_number("6222021234567890") == "6222********7890"
    assert money.mask_number("1234") == "****"


def test_pay_day_and_deadline_fall_in_the_next_month_and_clamp_to_its_length() -> None:
    assert month_after("2026-11", 15) == date(2026, 12, 15)
    assert month_after("2026-12", 10) == date(2027, 1, 10)
    assert month_after("2027-01", 31) == date(2027, 2, 28)


def _line(i: int, name: str, payable: int, paid: int, paid_on: date | None = None, holder: str = "",
          bank: str = "none") -> dict:
    return {"id": i, "person": i, "name": name, "payable_fen": payable, "paid_fen": paid, "paid_on": paid_on,
            "card_masked": "6222****7890" if holder else "", "card_holder": holder, "bank_status": bank,
            "bank_reason": "账户冻结" if bank == "failed" else ""}


def test_each_reconciliation_rule_on_a_worked_month() -> None:
    att = {i: Attended(i, n, "", 1, "钢筋班组", d) for i, n, d in
           [(1, "甲", 20), (2, "乙", 18), (4, "丁", 20), (5, "戊", 20), (6, "己", 20), (7, "庚", 5), (8, "辛", 10)]}
    lines = [_line(1, "甲", 600000, 600000, date(2026, 12, 10)), _line(3, "丙", 300000, 300000, date(2026, 12, 10)),
             _line(4, "丁", 600000, 400000, date(2026, 12, 10)), _line(5, "戊", 600000, 600000, date(2026, 12, 20)),
             _line(6, "己", 600000, 600000, date(2026, 12, 10), holder="别人"),
             _line(7, "庚", 150000, 0), _line(8, "辛", 300000, 0, bank="failed")]
    found = find_mismatches("2026-11", date(2026, 12, 21), DEFAULT_RULES, att, {"id": 1}, lines, True,
                            {7: date(2026, 11, 20)})
    kinds = {(m.kind, m.person_id) for m in found}
    assert ("attended_not_on_payroll", 2) in kinds
    assert ("on_payroll_no_attendance", 3) in kinds
    assert ("underpaid", 4) in kinds and next(m for m in found if m.kind == "underpaid" and m.person_id == 4).amount_fen == 200000
    assert ("paid_late", 5) in kinds
    assert ("card_not_own", 6) in kinds
    assert ("exit_unsettled", 7) in kinds
    assert ("bank_failed", 8) in kinds and ("underpaid", 8) not in kinds
    assert not any(m.person_id == 1 for m in found)
    assert not any(m.kind == "payroll_not_submitted" for m in found)


def test_payroll_not_submitted_after_the_deadline_and_nothing_unpaid_before_the_pay_day() -> None:
    found = find_mismatches("2026-11", date(2026, 12, 11), DEFAULT_RULES, {}, None, [], False, {})
    assert [m.kind for m in found] == ["payroll_not_submitted"]
    assert find_mismatches("2026-11", date(2026, 12, 10), DEFAULT_RULES, {}, None, [], False, {}) == []
    early = find_mismatches("2026-11", date(2026, 12, 14), DEFAULT_RULES, {1: Attended(1, "甲", "", 1, "", 20)},
                            {"id": 1}, [_line(1, "甲", 600000, 0)], True, {})
    assert early == []


def test_a_line_of_nothing_payable_without_attendance_is_no_finding() -> None:
    found = find_mismatches("2026-11", date(2026, 12, 11), DEFAULT_RULES, {}, {"id": 1}, [_line(1, "甲", 0, 0)], True,
                            {})
    assert found == []
