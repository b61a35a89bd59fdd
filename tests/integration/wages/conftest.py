"""Builders for the wage tests: a project 在建 since before last month, workers on its roster with punches on
chosen days (through ``record_punch``), users, and .xlsx / .csv files built like the ones sites and banks send."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest
from openpyxl import Workbook

from tests.integration.supervision.conftest import Site, id_number, make_district, make_site, make_user, punch


def last_month() -> str:
    from backend.vocabulary import local_today

    d = local_today().replace(day=1) - timedelta(days=1)
    return f"{d.year}-{d.month:02d}"


def month_first(month: str) -> date:
    y, m = month.split("-")
    return date(int(y), int(m), 1)


@dataclass
class WageSite:
    site: Site
    month: str
    staff: str  # project staff username
    supervisor: str
    people: dict[str, tuple[int, str]] = field(default_factory=dict)  # label → (person id, full ID number)
    entries: dict[str, int] = field(default_factory=dict)

    @property
    def project(self) -> int:
        return self.site.project


async def make_wage_site(month: str | None = None) -> WageSite:
    month = month or last_month()
    district = await make_district()
    site = await make_site(district, start=month_first(month) - timedelta(days=20))
    staff = await make_user("project_staff", project_ids=[site.project])
    sup = await make_user("supervisor", district_ids=[district])
    return WageSite(site=site, month=month, staff=staff, supervisor=sup)


async def add_worker(ws: WageSite, label: str, *, days: int = 0, team: int | None = None,
                     entered_on: date | None = None) -> int:
    """A worker on the roster since before the month, with a punch on the first ``days`` days of it."""
    from backend.workforce import services as workforce

    number = id_number()
    person = await workforce.upsert_person(id_number=number, name=label)
    entry = await workforce.enter_roster(
        project_id=ws.project, person_id=person, unit_id=ws.site.gc_unit, team_id=team or ws.site.worker_team,
        work_role="worker", work_type="020", entered_on=entered_on or month_first(ws.month) - timedelta(days=15))
    first = month_first(ws.month)
    for i in range(days):
        await punch(ws.site, person, first + timedelta(days=i))
    ws.people[label] = (person, number)
    ws.entries[label] = entry
    return person


def payroll_xlsx(rows: list[dict[str, Any]]) -> bytes:
    """A site's payroll sheet with the template's headers."""
    from backend.wages.xlsx import PAYROLL_COLUMNS

    wb = Workbook()
    sh = wb.active
    sh.append([c.header for c in PAYROLL_COLUMNS])
    for r in rows:
        sh.append([r.get(c.key) for c in PAYROLL_COLUMNS])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def result_csv(rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["序号", "姓名", "银行卡号", "金额", "结果", "失败原因"])
    w.writerows(rows)
    return buf.getvalue().encode("gb18030")


def read_bank_csv(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


@pytest.fixture(autouse=True)
async def _database(migrated_db: str) -> None:
    """Every test here needs the migrated database."""


@pytest.fixture(scope="module", autouse=True)
def _cheap_hashing(cheap_password_hashing: None) -> None:
    """Password strength is not what these tests check."""


__all__ = ["make_user"]
