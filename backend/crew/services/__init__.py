"""Crew registration: the queries of the domain, one module per responsibility, behind this one public face:
``from backend.crew import services`` / ``from backend.crew.services import X``.

Flow of one registration (one row of ``crew_registration``):

1. ``start_registration`` (``id_card``) — the ID card: photos of both sides and the fields (typed or
   OCR-prefilled) pass ``validation.check_id_card``; the card's portrait is found and encoded (face service,
   ``verify`` limits); a duplicate entry on the same project is refused, active entries on other projects are
   returned as a warning.  The person is created (or their card data updated) and the registration stored —
   in one transaction.
2. ``issue_challenge`` / ``submit_face`` (``face_check``) — 人证核验: a liveness challenge of the clock-in
   mechanism (``LivenessChallenge`` + ``backend.clockin.services.consume_challenge``), the burst judged by
   ``FaceService.check_liveness`` against the ID-card template; the best frame must pass the enrolment quality
   rules (seed 002) and is searched 1:N over every enrolled template.  Distance and result are stored.  A
   mismatch → ``pending_confirmation`` (a supervisor confirms with a note); the same face under another ID
   number → ``pending_review`` (blocked until reviewed).
3. ``complete_registration`` (``completion``) — roster entry (team, unit, role, post/work type, entry date),
   the enrolment (``crew.enrolment.save_enrolment``, the one enrolment write the gate's 852 uses too: the gate
   whitelist picks it up, the face-index version is bumped once), an optional labour contract, and a worker
   account for the phone PWA with a one-time initial password — all in one transaction.

Modules (each imports only those above it in this list; none imports this package):

- ``common``         roles, the face-service seam (``common.face_service``), the editor check, team scope
- ``files``          uploaded files: storing, and who may open them
- ``registrations``  reading registrations, their scope and photos, the step guard, cancelling
- ``id_card``        step 1: the ID card
- ``face_check``     step 2: liveness challenge and face check
- ``review``         the supervisor's review
- ``contracts``      labour contracts, exits (``record_exit``: the one exit path) and who the gate admits
                     (``admitted_to_site``: no contract in force → not on the whitelist, seed 001 §五(十一))
- ``accounts``       workers' phone accounts and initial passwords
- ``completion``     step 3: roster entry, enrolment, contract, account
- ``roster``         the roster view and page helpers
- ``imports``        the .xlsx roster import job
- ``export``         the .xlsx roster export and the full-ID access log

Tests stand in for the camera by patching ``common.face_service`` and for the face index by patching
``face_check.face_index`` (a name re-exported here is a copy: patching it here changes nothing).
"""

from __future__ import annotations

from backend.crew.enrolment import face_index
from backend.crew.services.accounts import initial_password, reset_worker_password
from backend.crew.services.common import EDITOR_ROLES, REVIEWER_ROLES, face_service, require_editor, team_people
from backend.crew.services.completion import RosterStep, complete_registration
from backend.crew.services.contracts import (
    ContractIn,
    add_contract,
    admitted_to_site,
    exit_person,
    gate_notices,
    list_contracts,
    record_exit,
    upload_exit_document,
)
from backend.crew.services.export import FULL_ID_REASON_MAX, FULL_ID_ROLES, export_roster, id_access_log
from backend.crew.services.face_check import issue_challenge, submit_face
from backend.crew.services.files import get_file
from backend.crew.services.id_card import (
    CARD_PHOTO_MESSAGES,
    IdStep,
    card_photo_error,
    start_registration,
    start_supplement,
    supplement_target,
)
from backend.crew.services.imports import import_status, run_import, start_import
from backend.crew.services.registrations import (
    cancel_registration,
    duplicate_photo,
    get_registration,
    list_registrations,
    registration_photo,
)
from backend.crew.services.review import decide_review, list_reviews
from backend.crew.services.roster import (
    FACE_FILTERS,
    ROSTER_STATES,
    form_options,
    project_brief,
    roster,
    roster_listing,
)

__all__ = [
    "CARD_PHOTO_MESSAGES",
    "EDITOR_ROLES",
    "FACE_FILTERS",
    "FULL_ID_REASON_MAX",
    "FULL_ID_ROLES",
    "REVIEWER_ROLES",
    "ROSTER_STATES",
    "ContractIn",
    "IdStep",
    "RosterStep",
    "add_contract",
    "admitted_to_site",
    "cancel_registration",
    "card_photo_error",
    "complete_registration",
    "decide_review",
    "duplicate_photo",
    "exit_person",
    "export_roster",
    "face_index",
    "face_service",
    "form_options",
    "gate_notices",
    "get_file",
    "get_registration",
    "id_access_log",
    "import_status",
    "initial_password",
    "issue_challenge",
    "list_contracts",
    "list_registrations",
    "list_reviews",
    "project_brief",
    "record_exit",
    "registration_photo",
    "require_editor",
    "reset_worker_password",
    "roster",
    "roster_listing",
    "run_import",
    "start_import",
    "start_registration",
    "start_supplement",
    "submit_face",
    "supplement_target",
    "team_people",
    "upload_exit_document",
]
