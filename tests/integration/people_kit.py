"""Test set-up for the people rules (issue 14 items 5 and 6): exits go through the one exit rule (seed 004
§三(五): workload confirmed, wages settled, the signed 退场确认书) and the gate admits only people with a labour
contract in force (seed 001 §五(十一)).  Tests that need an exited person or a person on the whitelist use
these instead of writing rows by hand, so they meet the same rules as the product."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

PDF = b"%PDF-1.4\n1 0 obj<< /Type /Catalog >>endobj\ntrailer<< /Root 1 0 R >>\n%%EOF\n"
CONFIRMED = {"workload_confirmed": True, "wages_settled": True}


async def sign_contract(project_id: int, entry_id: int, *, starts_on: date | None = None,
                        ends_on: date | None = None) -> int:
    """An open-ended (or, with ``ends_on``, fixed-term) labour contract of the entry, from ``starts_on``
    (default: a year ago) — the entry is then admitted at the gate."""
    from backend.crew.services.contracts import ContractIn, record_contract

    c = ContractIn(contract_type="fixed_term" if ends_on else "open_ended",
                   starts_on=starts_on or date.today() - timedelta(days=365), ends_on=ends_on, data=PDF,
                   filename="contract.pdf")
    return await record_contract(project_id, entry_id, c)


async def exit_entry(project_id: int, entry_id: int, exited_on: date, note: str = "") -> dict[str, Any]:
    """退场 through the one exit path, with a signed confirmation and both confirmations."""
    from backend.crew.services import record_exit

    return await record_exit(project_id, entry_id, exited_on=exited_on, note=note, document=PDF,
                             filename="exit.pdf", **CONFIRMED)


async def upload_exit_document(client: Any, headers: dict[str, str], project_id: int) -> int:
    r = await client.post(f"/api/projects/{project_id}/crew/exit-documents",
                          files={"file": ("exit.pdf", PDF, "application/pdf")}, headers=headers)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def exit_body(client: Any, headers: dict[str, str], project_id: int, exited_on: date | str,
                    note: str = "") -> dict[str, Any]:
    """A complete roster-API exit body: the date, an uploaded signed confirmation and both confirmations."""
    return {"exited_on": exited_on if isinstance(exited_on, str) else exited_on.isoformat(), "note": note,
            "confirmation_file_id": await upload_exit_document(client, headers, project_id), **CONFIRMED}
