"""The fence editing page ``/projects/{id}/fences``: a Leaflet map (vendored, no CDN) with the project's
fences, a small drawing toolbar, GeoJSON text editing, file import and the re-judging report.

Thin: the page is a shell; ``pwa/static/js/fences.js`` talks to the JSON API (cookie session).  Without
a configured tile server (``SMZ_TILE_URL``) the map is a plain grey canvas with a scale bar.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from litestar import get
from litestar.response import Template

from backend.accounts.roles import ROLES
from backend.auth import AuthUser
from backend.fences import services
from backend.org import services as org
from backend.settings import get_settings
from backend.vocabulary import Role, local_today

# Tile providers whose tiles are in GCJ-02 ("Mars" coordinates): draw and show GCJ-02 by default.
_GCJ_TILE_HOSTS = ("autonavi", "amap", "gtimg", "tencent", "qq.com", "map.baidu")


def default_crs(tile_url: str) -> str:
    url = tile_url.lower()
    return "gcj02" if any(h in url for h in _GCJ_TILE_HOSTS) else "wgs84"


@get("/projects/{project_id:int}/fences", include_in_schema=False)
async def fences_page(project_id: int, user: AuthUser) -> Template:
    await services.check_access(user, project_id)
    project = await org.get_project(project_id)
    rules = await org.rules_for_project(project_id)
    tile_url = get_settings().tile_url
    today = local_today(project.get("timezone"))  # the site's day, not the server's UTC date
    config: dict[str, Any] = {
        "projectId": project_id,
        "projectName": project["name"],
        "lon": project.get("lon"),
        "lat": project.get("lat"),
        "tileUrl": tile_url,
        "crs": default_crs(tile_url),
        "canEdit": user.role in services.EDITOR_ROLES,
        "canRejudge": user.role != Role.worker,
        "importMaxBytes": rules.fence_import_max_bytes,
        "maxAccuracyM": rules.gps_max_accuracy_m,
        "edgeMarginM": rules.fence_edge_margin_m,
        "kinds": services.KINDS,
        "crsLabels": services.CRS_LABELS,
    }
    return Template("fences/index.html", context={
        "user": user, "role_label": ROLES[user.role], "project": project, "config": config,
        "can_edit": config["canEdit"], "can_rejudge": config["canRejudge"], "tile_url": tile_url,
        "rules": rules, "today": today.isoformat(), "week_ago": (today - timedelta(days=6)).isoformat(),
        "import_max_kb": rules.fence_import_max_bytes // 1024,
    })


FENCE_PAGES = [fences_page]
