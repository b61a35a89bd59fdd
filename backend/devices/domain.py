"""What a terminal may ask of the domain, whatever protocol it speaks: plain values in (project,
person id, ID number, aware datetimes, photo bytes), plain results out, ``AppError`` for a refusal.
A protocol adapter (``backend.devices.protocols``) uses only these calls and the terminal lifecycle
(``backend.devices.terminals``); adding a protocol never changes them.

- :meth:`TerminalDomain.whitelist` — the project's roster on a day as a terminal holds it: on the
  roster (entered, not exited), a labour contract in force or within the district's grace (seed 001
  §五(十一): 未订立劳动合同的人员不得进入工地) and enrolled, with full ID numbers and the photo length.
- :meth:`TerminalDomain.person` — one person of that whitelist with the enrolment photos; None for
  people of other projects or without a contract.
- :meth:`TerminalDomain.project_rules` — the regulatory numbers of the project's district.
- :meth:`TerminalDomain.enrol` — a capture at the terminal, through the one enrolment service
  (``backend.crew.enrolment.enrol_from_terminal``: only people with an active entry on the project's
  roster; a second face goes to review).
- :meth:`TerminalDomain.punch` — a punch, through the one
  attendance service's group commit (``backend.attendance.batching``, the rules of ``record_punch``,
  source ``gate``): punches of many terminals share a transaction; it returns after the commit, so a
  punch acknowledged to the terminal is never lost.  Idempotent by the caller's key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from backend.attendance.batching import PunchBatcher
from backend.attendance.live import LiveFeed
from backend.attendance.services import PunchIn, Verdict
from backend.crew.enrolment import EnrolOutcome, TerminalCapture, enrol_from_terminal
from backend.crew.services import admitted_to_site
from backend.devices import services as devices
from backend.face.service import FaceService
from backend.org.services import rules_for_project
from backend.rules import Rules
from backend.validators import parse_id_number
from backend.vocabulary import Source

__all__ = ["EnrolOutcome", "PersonCard", "TerminalCapture", "TerminalDomain", "TerminalPunch", "WhitelistEntry"]


@dataclass(frozen=True, slots=True)
class WhitelistEntry:
    person_id: int
    name: str
    id_number: str  # full: only ever sent to the project's own terminals
    photo_length: int


@dataclass(frozen=True, slots=True)
class PersonCard:
    """A person of the terminal's roster, as the ID card and the enrolment have them."""

    person_id: int
    name: str
    id_number: str
    ethnicity: str | None
    gender: str | None  # "M" | "F"
    address: str | None
    birth_date: date
    issuer: str | None
    valid_until: date | None
    face_photo: bytes
    id_photo: bytes


@dataclass(frozen=True, slots=True)
class TerminalPunch:
    """A punch seen by a terminal: ``captured_at`` aware (the protocol adapter knows how its
    terminals tell time), ``received_at`` the server clock when the request was complete."""

    terminal_id: int
    project_id: int
    person_id: int
    direction: str
    captured_at: datetime
    received_at: datetime
    idempotency_key: str
    photo: bytes | None = None
    flags: tuple[str, ...] = ()


class TerminalDomain:
    """The domain calls of one gate server (it keeps a cache of known person ids and the group commit of
    punches; created on the server's event loop).  ``punch_concurrency`` is no longer used (punches share
    transactions through ``PunchBatcher``, whose batches in flight the settings bound); kept for callers."""

    def __init__(self, *, punch_concurrency: int | None = -1) -> None:
        # The app's live feed (``backend.runtime.AppServices.live_feed``, set by ``start_gate_server``):
        # committed punches reach the live map of the same app.
        self.live_feed: LiveFeed | None = None
        # The app's face workers (``AppServices.face``, set by ``start_gate_server``): enrolment templates.
        self.face: FaceService | None = None
        # Group commit (issue 18): made with the first punch, on the server's loop, with the live feed attached.
        self._batcher: PunchBatcher | None = None

    async def _admitted(self, project_id: int, day: date) -> Any:
        """Who of the roster the gate admits on ``day``: a labour contract in force, or the district's grace
        (seed 001 §五(十一); ``backend.crew.services.admitted_to_site``)."""
        return admitted_to_site(day, await rules_for_project(project_id))

    async def whitelist(self, project_id: int, day: date) -> list[WhitelistEntry]:
        rows = await devices.whitelist_entries(project_id, day, admitted=await self._admitted(project_id, day))
        return [WhitelistEntry(r["person"], r["name"], r["id_number"], r["photo_length"]) for r in rows]

    async def person(self, project_id: int, id_number: str, day: date) -> PersonCard | None:
        """Raises AppError for an invalid ID number."""
        info = parse_id_number(id_number)
        p = await devices.gate_person(project_id, info.number, day, admitted=await self._admitted(project_id, day))
        if p is None:
            return None
        return PersonCard(
            person_id=p["id"], name=p["name"], id_number=p["id_number"], ethnicity=p["ethnicity"], gender=p["gender"],
            address=p["address"], birth_date=p["birth_date"], issuer=p["id_issuer"], valid_until=p["id_valid_until"],
            face_photo=p["face_photo"], id_photo=p["id_photo"],
        )

    async def project_rules(self, project_id: int) -> Rules:
        return await rules_for_project(project_id)

    async def enrol(self, project_id: int, capture: TerminalCapture, *, rules: Rules, today: date, terminal: str,
                    max_photo_bytes: int) -> EnrolOutcome:
        if self.face is None:
            raise RuntimeError("the gate server was started without the app's face service")
        return await enrol_from_terminal(project_id, capture, rules=rules, today=today, terminal=terminal,
                                         max_photo_bytes=max_photo_bytes, face_service=self.face)

    async def punch(self, p: TerminalPunch) -> Verdict:
        punch = PunchIn(
            source=Source.gate, project_id=p.project_id, person_id=p.person_id, idempotency_key=p.idempotency_key,
            captured_at=p.captured_at, received_at=p.received_at, terminal_id=p.terminal_id, direction=p.direction,
            photo=p.photo, flags=p.flags,
        )
        if self._batcher is None:
            self._batcher = PunchBatcher()
        self._batcher.feed = self.live_feed  # the app's feed, as attached now
        return await self._batcher.submit(punch)
