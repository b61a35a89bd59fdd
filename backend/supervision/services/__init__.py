"""All queries of the supervision domain, one module per responsibility, behind this one public face:
``from backend.supervision import services`` / ``from backend.supervision.services import X``.

Definitions: docs/supervision.md (and the docstrings of ``days`` and ``metrics``).  Rollups and reports are
set-based: one grouped SQL statement per question, then one pass in Python over the selected columns — never a
query per person or per project.

Modules (each imports only those above it in this list; none imports this package):

- ``common``         local day, JSON/time normalising, SQL id lists, key-post vocabulary (no queries)
- ``projects``       ``ProjectCtx`` (status calendar + district rules) and the scope look-ups
- ``people``         people search (name or ID number) and team names
- ``rollups``        the stored daily rollups and the nightly run
- ``counts``         person-day counts: fresh rollups, live aggregates for the other days
- ``monthly``        the person × day matrix (seed 001 §2.8.1, §2.11.1)
- ``punches``        per-punch detail (seed 001 §2.8.2)
- ``managers``       key managers' valid days and on-duty rates, the key-manager table filters
- ``qualification``  project qualification rule (seed 001 §2.3)
- ``dashboards``     district / project execution, device vendor support (seed 001 §2.10)
- ``latency``        upload latency compliance
- ``live``           the live map (projects, terminals, fences, live events) and PostgreSQL NOTIFY
- ``cases``          warning case vocabulary, listing and people's steps on a case
- ``notifications``  district notification settings, recipients, sending in-site messages and SMS
- ``messages``       a user's in-site messages
- ``warnings``       detecting findings and the nightly evaluation of warning cases

No module state: the live map's fence source is the app's (``AppServices.fence_source``, passed in).
"""

from __future__ import annotations

from backend.supervision.days import ProjectCalendar, days_between, month_of, parse_month, roster_days
from backend.supervision.services.cases import (
    ACTION_ZH,
    KIND_ZH,
    LEVEL_ZH,
    MONTHLY_KINDS,
    OPEN_STATES,
    STATUS_ZH,
    act_on_case,
    get_case,
    list_cases,
)
from backend.supervision.services.common import (
    DEFAULT_TZ,
    KEY_POST_LIST,
    POST_SHORT,
    SEED_TABLE_POSTS,
    local_today,
)
from backend.supervision.services.counts import packed_day_marks, person_day_counts, project_day_totals
from backend.supervision.services.dashboards import (
    DistrictExecution,
    ProjectCounts,
    ProjectExecution,
    VendorSupport,
    district_execution,
    project_execution,
    vendor_support,
)
from backend.supervision.services.latency import LatencyRow, latency_compliance
from backend.supervision.services.live import (
    LIVE_CHANNEL,
    NOTIFY_MAX_BYTES,
    RECENT_PUNCHES,
    FenceSource,
    fence_features,
    map_overview,
    pg_notify,
    project_today,
    punch_event,
)
from backend.supervision.services.managers import (
    ManagerFilters,
    ManagerPerson,
    ProjectManagers,
    filter_managers,
    managers_month,
)
from backend.supervision.services.messages import list_messages, mark_read, unread_count
from backend.supervision.services.monthly import (
    CELL_LEGEND,
    CELL_REJECTED,
    CELL_SUSPENDED,
    CELL_UNCOUNTED,
    CELL_VALID,
    Matrix,
    MatrixRow,
    monthly_matrix,
)
from backend.supervision.services.notifications import (
    SETTING_FIELDS,
    add_recipient,
    check_notify_setting,
    get_notify_setting,
    mask_phone,
    notify_cases,
    remove_recipient,
    save_notify_setting,
)
from backend.supervision.services.projects import (
    ProjectCtx,
    district_rules,
    list_scope_districts,
    list_scope_teams,
    project_contexts,
    project_ids_in_district,
)
from backend.supervision.services.punches import DIRECTION_ZH, SOURCE_ZH, punch_detail
from backend.supervision.services.qualification import Qualification, qualification
from backend.supervision.services.rollups import (
    ProgressFn,
    RollupResult,
    days_to_roll,
    fresh_rolled_days,
    last_rollup_at,
    nightly_rollup,
    rollup_days,
    rollup_month,
)
from backend.supervision.services.warnings import EvaluationSummary, Finding, detect_findings, evaluate_warnings

__all__ = [
    "ACTION_ZH", "CELL_LEGEND", "CELL_REJECTED", "CELL_SUSPENDED", "CELL_UNCOUNTED", "CELL_VALID", "DEFAULT_TZ",
    "DIRECTION_ZH", "KEY_POST_LIST", "KIND_ZH", "LEVEL_ZH", "LIVE_CHANNEL", "MONTHLY_KINDS", "NOTIFY_MAX_BYTES",
    "OPEN_STATES", "POST_SHORT", "RECENT_PUNCHES", "SEED_TABLE_POSTS", "SETTING_FIELDS", "SOURCE_ZH", "STATUS_ZH",
    "DistrictExecution", "EvaluationSummary", "FenceSource", "Finding", "LatencyRow", "ManagerFilters",
    "ManagerPerson", "Matrix", "MatrixRow", "ProgressFn", "ProjectCalendar", "ProjectCounts", "ProjectCtx",
    "ProjectExecution", "ProjectManagers", "Qualification", "RollupResult", "VendorSupport",
    "act_on_case", "add_recipient", "check_notify_setting", "days_between", "days_to_roll", "detect_findings",
    "district_execution", "district_rules", "evaluate_warnings", "fence_features", "filter_managers",
    "fresh_rolled_days", "get_case", "get_notify_setting", "last_rollup_at", "latency_compliance", "list_cases",
    "list_messages", "list_scope_districts", "list_scope_teams", "local_today", "managers_month", "map_overview",
    "mark_read", "mask_phone", "month_of", "monthly_matrix", "nightly_rollup", "notify_cases", "packed_day_marks",
    "parse_month", "person_day_counts", "pg_notify", "project_contexts", "project_day_totals", "project_execution",
    "project_ids_in_district", "project_today", "punch_detail", "punch_event", "qualification", "remove_recipient",
    "rollup_days", "rollup_month", "roster_days", "save_notify_setting", "unread_count",
    "vendor_support",
]
