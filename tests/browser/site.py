"""A small building site for the clock-in tests, created through the domain services only.

One district, one project (under construction, Jiangmen), a general contractor with a 钢筋班组, and
workers with phone accounts: ``enrolled`` (face template from the sdist photo obama.jpg, the face
the synthetic liveness videos show), ``wanderer`` (the same face, a second person: the one who clocks
in from outside the fence, so that the other's punches never look like an impossible journey),
``stranger`` (enrolled with biden.jpg: a different face) and ``unenrolled``.  A circular electronic fence around the project when the fence store exists.

Used in-process by the API tests (``tests/integration/clockin``) and by the browser test server
(``tests/browser/server.py``), which runs it against its own fresh database.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

PASSWORD = "worker-pass-2026"
CENTRE = (113.0946, 22.6040)  # lon, lat (WGS-84): 江门市蓬江区
FENCE_RADIUS_M = 150.0
OUTSIDE_BY_M = 120.0  # the "outside" point lies this far beyond the fence edge


def near(point: tuple[float, float], metres: float = 5.0, rng: random.Random | None = None) -> tuple[float, float]:
    """A point within ``metres`` of ``point``: every punch has its own fix (exactly repeated coordinates
    are a spoofing signal), and close enough that consecutive punches never look like fast travel."""
    r = rng or random.Random()
    return offset(*point, r.uniform(0, 360), r.uniform(0, metres))


def offset(lon: float, lat: float, azimuth_deg: float, metres: float) -> tuple[float, float]:
    """The point ``metres`` away along ``azimuth_deg`` (0 = north), on the WGS-84 ellipsoid."""
    from geofence import geodesic_offset

    return geodesic_offset(lon, lat, azimuth_deg, metres)


@dataclass
class Site:
    project_id: int
    district_id: int
    unit_id: int
    team_id: int
    people: dict[str, int] = field(default_factory=dict)  # label → person id
    usernames: dict[str, str] = field(default_factory=dict)  # label → username
    password: str = PASSWORD
    fence: dict[str, Any] | None = None  # what the fence store answered, None when there is no store
    inside: tuple[float, float] = CENTRE
    outside: tuple[float, float] = offset(*CENTRE, 0.0, FENCE_RADIUS_M + OUTSIDE_BY_M)
    admin: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Site:
        d = dict(d)
        d["inside"] = tuple(d["inside"])
        d["outside"] = tuple(d["outside"])
        return cls(**d)


def fence_store() -> Any | None:
    """``backend.fences.services.create_fence``, or None where the fence store is not installed."""
    try:
        from backend.fences.services import create_fence
    except ImportError:
        return None
    return create_fence


async def create_circle_fence(project_id: int, lon: float, lat: float, radius_m: float) -> dict[str, Any] | None:
    """A circular fence (WGS-84) through the fence store."""
    create = fence_store()
    if create is None:
        return None
    # valid for a while already: captures made (offline) before the site was set up are judged too
    return await create(project_id, name="施工现场围栏", kind="circle",
                        geometry={"type": "Point", "coordinates": [lon, lat]}, crs="wgs84", radius_m=radius_m,
                        valid_from=datetime.now(UTC) - timedelta(days=1))


async def enrol(person_id: int, photo_name: str, purpose: str = "enrol", *, face_service: Any) -> None:
    """Enrol a face the way a foreman's tablet would: template from the face service (``FaceService``)."""
    from backend.crew.enrolment import save_enrolment
    from tests.fixtures.faces import capture_like

    photo = capture_like(photo_name)  # 480×640, face 210 px wide: a terminal-like enrolment photo
    face = await face_service.encode(photo, purpose=purpose)
    from backend.workforce import consent

    if not await consent.has_consent(person_id):  # no face without 单独同意 (issue 20 B.1)
        await consent.record(person_id, "given", channel="tablet")
    await save_enrolment(person_id, face.encoding, photo, None, "test")


async def build_site(*, with_faces: bool = True, seed: int | None = None) -> Site:
    from backend.accounts.services import create_user
    from backend.demo import fake_id_number, fake_name, fake_uscc
    from backend.org import services as org
    from backend.workforce import services as workforce

    rng = random.Random(seed if seed is not None else uuid.uuid4().int)
    today = date.today()
    tag = uuid.uuid4().hex[:6]
    district = await org.create_district(f"44{rng.randrange(0, 10**8):08d}", f"测试区{tag}")
    gc = await org.create_enterprise(f"测试建工集团{tag}有限公司", fake_uscc(rng))
    project = await org.create_project(
        name=f"滨江安置房二期{tag}", district_id=district, category="building", floor_area_m2=68_500,
        planned_start=today - timedelta(days=60), lon=CENTRE[0], lat=CENTRE[1],
    )
    await org.change_status(project, "under_construction", effective_on=today - timedelta(days=50), note="开工",
                            user_id=None)
    unit = await org.add_unit(project, gc, "general_contractor", today - timedelta(days=55))
    team = await org.create_team(project, unit, "钢筋班组")
    site = Site(project_id=project, district_id=district, unit_id=unit, team_id=team)
    for label in ("enrolled", "wanderer", "stranger", "unenrolled"):
        person = await workforce.upsert_person(id_number=fake_id_number(rng), name=fake_name(rng))
        await workforce.enter_roster(project_id=project, person_id=person, unit_id=unit, team_id=team,
                                     work_role="worker", work_type="020", entered_on=today - timedelta(days=30))
        username = f"w_{label}_{tag}"
        await create_user(username, PASSWORD, "worker", person_id=person, display_name=f"工人{label}")
        site.people[label] = person
        site.usernames[label] = username
    site.admin = f"admin_{tag}"
    await create_user(site.admin, PASSWORD, "admin")
    if with_faces:
        from backend.face.service import FaceService

        face = FaceService(workers=1)  # this script's own face workers, closed when the faces are enrolled
        try:
            await enrol(site.people["enrolled"], "obama.jpg", face_service=face)
            await enrol(site.people["wanderer"], "obama.jpg", face_service=face)
            # biden.jpg is turned ~16° (over the enrolment limit): only its template matters here
            await enrol(site.people["stranger"], "biden.jpg", purpose="verify", face_service=face)
        finally:
            face.close()
    site.fence = await create_circle_fence(project, *CENTRE, FENCE_RADIUS_M)
    return site
