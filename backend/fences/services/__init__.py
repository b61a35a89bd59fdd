"""Electronic fences of projects (stored, versioned) and the decisions against them, one module per
responsibility, behind this one public face: ``from backend.fences import services`` /
``from backend.fences.services import X``.

* Store (``store``, ``imports``): ``create_fence`` / ``update_fence`` / ``delete_fence`` / ``import_fences``.
  An edit closes the current version (``valid_to = now``) and opens the next in one write transaction; a
  delete closes it.  Definitions are ``geofence.fence_to_dict`` (WGS-84); GCJ-02 input is converted on the way
  in.
* One fix (``judge``): ``judge_fix`` (called by the phone clock-in) judges against the versions active at the
  capture time, then adds the spoofing review flags over the person's recent mobile punches.
* Many fixes (``rejudge``, ``features``): ``judge_many`` / ``rejudge`` (vectorised ``geofence.FenceIndex``)
  and ``map_features`` (the supervisor map's GeoJSON, hooked by ``backend.supervision.services.fence_features``).

Caching (``versions``): a version row never changes after it is written (except for closing it), so a built
``geofence.Fence`` is cached per (fence id, version) in every process.  Each judgement asks the database
which (fence id, version) pairs were active at the capture time — one small indexed query, the "version
stamp" — and builds only pairs it has not seen.  An edit in another process therefore shows up at the next
judgement, and nothing stale can be served.

Modules (each imports only those above it in this list; none imports this package):

- ``common``    vocabulary (kinds, CRS, codes), roles, time/JSON helpers, the project look-up, ``check_access``
- ``spec``      API input → ``geofence.Fence`` (``FenceSpec``, ``build_fence``, error field paths)
- ``versions``  active versions at a time, the caches of built fences, indexes and map features
- ``features``  fence summaries and GeoJSON features, ``export_geojson``, ``map_features``
- ``judge``     one phone fix (``judge_fix``)
- ``store``     create / edit / delete / list / history
- ``imports``   fence file import (parsing in ``backend.fences.upload``, run in a bounded worker)
- ``rejudge``   ``judge_many``, ``rejudge`` and the stored fence outcome of a punch
- ``demo``      the demo corridor

Module state: the caches in ``versions`` (``clear_caches``).
"""

from __future__ import annotations

from zoneinfo import ZoneInfo  # re-exported: tests and benchmarks build local days with services.ZoneInfo

from backend.fences.services.common import (
    CODE_ZH,
    CRS_LABELS,
    EDITOR_ROLES,
    FENCE_FLAGS,
    FENCE_REJECTIONS,
    JUDGE_MAX_POINTS,
    KINDS,
    VERDICT_ZH,
    check_access,
)
from backend.fences.services.demo import DEMO_ROAD, DEMO_ROAD_WIDTH_M, create_demo_fences
from backend.fences.services.features import export_geojson, map_features
from backend.fences.services.imports import _decode_upload, import_fences
from backend.fences.services.judge import FixJudgement, judge_fix
from backend.fences.services.rejudge import (
    REJUDGE_CHUNK,
    REJUDGE_EXAMPLES,
    ManyJudgements,
    _overall,
    judge_many,
    rejudge,
    stored_fence_code,
)
from backend.fences.services.spec import FenceSpec, api_field, build_fence, fence_error
from backend.fences.services.store import (
    create_fence,
    delete_fence,
    fence_history,
    get_fence,
    list_fences,
    update_fence,
)
from backend.fences.services.versions import (
    ActiveVersion,
    active_versions,
    clear_caches,
    fences_at,
    fences_for,
    index_for,
)
from backend.fences.upload import (
    FAR_FROM_PROJECT_M,
    NAME_MAX,
    PreparedFence,
    UploadLimits,
    decode_upload,
    fence_warnings,
    parse_import,
    prepare_import,
)

__all__ = [
    "CODE_ZH", "CRS_LABELS", "DEMO_ROAD", "DEMO_ROAD_WIDTH_M", "EDITOR_ROLES", "FAR_FROM_PROJECT_M", "FENCE_FLAGS",
    "FENCE_REJECTIONS", "JUDGE_MAX_POINTS", "KINDS", "NAME_MAX", "REJUDGE_CHUNK", "REJUDGE_EXAMPLES", "VERDICT_ZH",
    "ActiveVersion", "FenceSpec", "FixJudgement", "ManyJudgements", "PreparedFence", "UploadLimits", "ZoneInfo",
    "_decode_upload", "_overall", "active_versions", "api_field", "build_fence", "check_access", "clear_caches",
    "create_demo_fences", "create_fence", "decode_upload", "delete_fence", "export_geojson", "fence_error",
    "fence_history", "fence_warnings", "fences_at", "fences_for", "get_fence", "import_fences", "index_for",
    "judge_fix", "judge_many", "list_fences", "map_features", "parse_import", "prepare_import", "rejudge",
    "stored_fence_code", "update_fence",
]
