"""Terminal serials on the supervision views (docs/security.md §2): a serial is half of a terminal's 843 login
(seed 001: vendor code + serial), so readers outside the serial roles — foremen — see it masked."""

from __future__ import annotations

from backend.accounts.services import CurrentUser
from backend.devices.services import mask_serial
from backend.supervision.access import hide_serials
from backend.supervision.services.latency import LatencyRow
from backend.vocabulary import Role


def user(role: Role) -> CurrentUser:
    return CurrentUser(id=1, username="u", display_name="u", role=role)


def views() -> dict:
    return {
        "terminals": [{"id": 7, "serial": "DEMO-GATE-01-IN", "project": 1}],  # the map
        "rejected": [{"name": "张三", "terminal": "DEMO-GATE-01-OUT"}],  # a project's day
        "rows": [{"terminal_serial": "SN0001", "terminal_id": 7}],  # punch detail
    }


def test_a_foreman_sees_serials_masked_everywhere_the_supervision_views_carry_them():
    data = hide_serials(user(Role.foreman), views())
    assert data["terminals"][0]["serial"] == "***********1-IN"
    assert data["rejected"][0]["terminal"] == "************-OUT"
    assert data["rows"][0] == {"terminal_serial": "**0001", "terminal_id": 7}  # ids stay
    row = LatencyRow(project_id=1, project_name="p", terminal_id=7, terminal_serial="SN0001", source="gate",
                     limit_s=5, total=1, within=1, avg_s=1.0, max_s=1.0)
    hide_serials(user(Role.foreman), ([], [row]))
    assert row.terminal_serial == "**0001"


def test_project_staff_the_district_and_admin_see_serials_in_full():
    for role in (Role.project_staff, Role.enterprise, Role.supervisor, Role.admin):
        assert hide_serials(user(role), views())["terminals"][0]["serial"] == "DEMO-GATE-01-IN"


def test_a_short_serial_is_masked_whole():
    assert mask_serial("SN1") == "***" and mask_serial("") == ""
