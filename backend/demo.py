"""Realistic demo data: one district, a building project with gates, a municipal road project, a
suspended project, enterprises, units, teams, ~200 people with key managers, two terminals, accounts, and ~40 days
of attendance history (gate and phone punches, a pending make-up, daily rollups, yellow and red warnings)."""

from __future__ import annotations

import math
import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from backend.accounts import services as accounts
from backend.approvals.demo import demo_applications
from backend.attendance.services import PunchIn, record_punch
from backend.clockin.services import request_makeup
from backend.crew.enrolment import save_enrolment
from backend.crew.services.contracts import ContractIn, record_contract
from backend.db import write_transaction
from backend.demo_faces import demo_portrait, demo_template
from backend.devices import services as devices
from backend.fences import services as fences
from backend.onboarding.demo import seed as onboarding_seed
from backend.org import services as org
from backend.org.demo_lifecycle import demo_lifecycle
from backend.settings import get_settings
from backend.supervision import services as supervision
from backend.supervision.sms import NullSender
from backend.upkeep.demo import seed as demo_upkeep
from backend.validators import id_check_char, uscc_check_char
from backend.vocabulary import (
    ChangeKind,
    ConsentAction,
    ConsentChannel,
    EnrolmentSource,
    ProjectStatus,
    Reason,
    Role,
    Source,
)
from backend.wages.demo import demo_wages
from backend.workforce import consent
from backend.workforce import services as workforce

DEMO_PASSWORD = "demo2026"

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍建国志红文辉力海波宇浩凯鹏飞斌俊峰亮成林春德福贵生财祥荣"


@dataclass
class DemoAccount:
    username: str
    role: str
    note: str


# The demo's accounts (``smz demo`` lists them, also when the data was already there).
DEMO_ACCOUNTS: tuple[DemoAccount, ...] = (
    DemoAccount("admin", Role.admin, "系统管理员"),
    DemoAccount("jianguan", Role.supervisor, "江门市蓬江区住建局监管人员"),
    DemoAccount("zongbao", Role.enterprise, "广东粤建工程集团（总包）企业账号"),
    DemoAccount("jianli", Role.enterprise, "江门市正衡工程监理（监理单位）企业账号：第一级审批"),
    DemoAccount("xiangmu", Role.project_staff, "安置房二期项目管理人员"),
    DemoAccount("banzu", Role.foreman, "道路改造工程劳务员/班组长"),
    DemoAccount("gongren", Role.worker, "道路改造工程工人（手机打卡）"),
    DemoAccount("changshang", Role.vendor, "设备厂商"),
)


def fake_id_number(rng: random.Random, region: str = "440703") -> str:
    birth = date(1966, 1, 1) + timedelta(days=rng.randrange(0, 36 * 365))
    seq = f"{rng.randrange(0, 1000):03d}"
    first17 = f"{region}{birth:%Y%m%d}{seq}"
    return first17 + id_check_char(first17)


def fake_uscc(rng: random.Random, region: str = "440703") -> str:
    chars = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    first17 = "91" + region + "".join(rng.choice(chars) for _ in range(9))
    return first17 + uscc_check_char(first17)


def fake_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


DEMO_VENDOR_CODE_FILE = "demo-vendor-code"


def demo_vendor_code_path() -> Path:
    return get_settings().data_dir / DEMO_VENDOR_CODE_FILE


def save_demo_vendor_code(code: str) -> Path:
    """The demo vendor's code (a credential, stored only as a hash in the database) goes to a file only
    the owner can read, for ``smz simulate-gate``."""
    path = demo_vendor_code_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(code + "\n")
    path.chmod(0o600)
    return path


def read_demo_vendor_code() -> str | None:
    path = demo_vendor_code_path()
    try:
        return path.read_text().strip() or None
    except OSError:
        return None



# A labour contract's signed copy in the demo (seed 001 §五(十一): no contract, no entry at the gate).
_DEMO_CONTRACT_PDF = b"%PDF-1.4\n1 0 obj<< /Type /Catalog >>endobj\ntrailer<< /Root 1 0 R >>\n%%EOF\n"


async def _demo_contract(project_id: int, entry_id: int, starts_on: date) -> None:
    await record_contract(project_id, entry_id, ContractIn(contract_type="open_ended", starts_on=starts_on,
                                                           data=_DEMO_CONTRACT_PDF, filename="劳动合同（演示）.pdf"))


@dataclass(frozen=True, slots=True)
class _Member:
    """A demo roster member with a contract: who may appear in the attendance history."""

    person: int
    entered_on: date
    post: str | None = None  # the key post of a manager; None for a worker


# --- The attendance history (step 考勤记录) ------------------------------------------------------------
# About the last 40 days, written through the one attendance path (record_punch), then rolled up and evaluated day
# by day like the nightly job, so every attendance and warning page has something to show.
DEMO_HISTORY_DAYS = 40
DEMO_GATE_WORKERS = 18  # building workers who pass the gate (keeps the demo at ~3,000 punches)
DEMO_MOBILE_WORKERS = 8  # road workers who clock in by phone (plus the foreman)
DEMO_PUNCH_BATCH = 250  # punches per write transaction while loading the history
DEMO_EVALUATION_DAYS = 10  # nightly warning runs replayed: long enough for a yellow case to turn red (Rules.red_on)
_DEMO_TZ = ZoneInfo("Asia/Shanghai")  # the demo projects' zone (Project.timezone default)
_M_PER_DEG_LAT = 110_800.0


def _local(day: date, minutes: float) -> datetime:
    """A local time on ``day`` (minutes after midnight, Asia/Shanghai) as an aware datetime."""
    return datetime.combine(day, time(0, 0), tzinfo=_DEMO_TZ) + timedelta(minutes=minutes)


def _road_point(rng: random.Random, offset_m: float) -> tuple[float, float]:
    """A point ``offset_m`` metres to the side of the demo road's centre line (the corridor fence is 60 m wide)."""
    road = fences.DEMO_ROAD
    i = rng.randrange(len(road) - 1)
    (x0, y0), (x1, y1) = road[i], road[i + 1]
    t = rng.uniform(0.1, 0.9)
    lon, lat = x0 + (x1 - x0) * t, y0 + (y1 - y0) * t
    m_lon = _M_PER_DEG_LAT * math.cos(math.radians(lat))
    dx, dy = (x1 - x0) * m_lon, (y1 - y0) * _M_PER_DEG_LAT
    norm = math.hypot(dx, dy)
    return lon + (-dy / norm) * offset_m / m_lon, lat + (dx / norm) * offset_m / _M_PER_DEG_LAT


def _manager_present(day: date, index: int, slacker: bool) -> bool:
    """Key managers' days, deterministic: one day in ten off (≥ 80 %, seed 000 §五); the slacker comes one day in
    four, so the 80 % of the month can no longer be reached once about ten days of it have passed (``cannot_be_met``)."""
    if slacker:
        return day.toordinal() % 4 == 0
    return (day.toordinal() + index) % 10 != 0


def _card_workers(members: list[_Member], today: date) -> set[int]:
    """The two gate workers whose faces were never enrolled: they enter by card (非人脸方式)."""
    workers = [m for m in members if not m.post][:DEMO_GATE_WORKERS]
    return set(sorted(m.person for m in workers if m.entered_on <= today - timedelta(days=30))[:2])


async def _demo_enrolments(members: list[_Member], today: date) -> int:
    """Synthetic faces (backend/demo_faces.py) for the building project's people with a contract, except the two
    card workers: the gate whitelist (849) is then filled and ``smz simulate-gate`` has people to punch."""
    skip = _card_workers(members, today)
    people = [m.person for m in members if m.person not in skip]
    async with write_transaction():
        for person in people:
            await consent.record(person, ConsentAction.given, channel=ConsentChannel.tablet)  # 单独同意 first
            await save_enrolment(person, demo_template(person), demo_portrait(person), None, EnrolmentSource.demo)
    return len(people)


def _gate_punches(rng: random.Random, pid: int, gates: dict[str, int], members: list[_Member],
                  days: list[date], today: date) -> list[PunchIn]:
    """The building project's gate records: in at DEMO-GATE-01-IN, out at DEMO-GATE-01-OUT, by face; two workers
    whose faces were not enrolled enter by card on the last 8 days (非人脸方式, seed 000 §六 → the
    未落实实名制管理 warning, red once it lasts past Rules.red_on), the construction officer once by card yesterday;
    a few uploads late (> 5 s, seed 002 附件1 §二(17)), among them a network outage at the gate one morning."""
    serials = {"in": "DEMO-GATE-01-IN", "out": "DEMO-GATE-01-OUT"}
    managers = [m for m in members if m.post]
    workers = [m for m in members if not m.post][:DEMO_GATE_WORKERS]
    card_workers = _card_workers(members, today)
    card_days = set(days[-8:])
    outage_day = today - timedelta(days=4)
    late_left = 4
    out: list[PunchIn] = []
    for day in days:
        for index, m in enumerate([*managers, *workers]):
            if day < m.entered_on:
                continue
            card_day = day in card_days and m.person in card_workers  # they come every day of those 8
            officer_card = m.post == "construction_officer" and day == days[-1]
            if m.post:
                if not (_manager_present(day, index, slacker=m.post == "safety_officer") or officer_card):
                    continue
                times = {"in": rng.uniform(7 * 60 + 40, 8 * 60 + 30), "out": rng.uniform(17 * 60 + 45, 19 * 60)}
            else:
                if rng.random() < 0.12 and not card_day:
                    continue
                times = {"in": rng.uniform(7 * 60 + 10, 8 * 60 + 5), "out": rng.uniform(17 * 60 + 30, 18 * 60 + 40)}
            for direction, minutes in times.items():
                captured = _local(day, minutes).replace(microsecond=0)
                latency = rng.uniform(0.3, 2.8)
                if day == outage_day and direction == "in" and minutes > 7 * 60 + 30 and late_left > 0:
                    late_left -= 1
                    latency = rng.uniform(90, 600)  # the gate's network was down: stored records sent later
                elif rng.random() < 0.012:
                    latency = rng.uniform(6, 240)
                card = card_day or (officer_card and direction == "in")
                out.append(PunchIn(
                    source=Source.gate, project_id=pid, person_id=m.person, terminal_id=gates[direction],
                    direction=direction, captured_at=captured, received_at=captured + timedelta(seconds=latency),
                    idempotency_key=f"g:{serials[direction]}:{m.person}:{captured.astimezone(_DEMO_TZ):%Y%m%d%H%M%S}",
                    flags=(Reason.non_face_mode,) if card else (),
                ))
    return out


async def _mobile_punches(rng: random.Random, pid: int, members: list[_Member], days: list[date], today: date,
                          worker_person: int, skip_day: date) -> list[PunchIn]:
    """The road project's phone clock-ins, judged against the corridor fence like ``clockin.clock_in`` does: most
    well inside, a few at the edge (near_edge, kept for review), a few sent late from the offline outbox (> 30 s,
    seed 000 附件3 §三.4).  The demo worker misses ``skip_day`` (their make-up request)."""
    rules = await org.rules_for_project(pid)
    managers = [m for m in members if m.post]
    workers = [m for m in members if not m.post]
    people = [*managers, *workers[:DEMO_MOBILE_WORKERS]]
    people += [m for m in workers[-1:] if m not in people]  # the foreman (the last one entered)
    edge_day, late_day = today - timedelta(days=6), today - timedelta(days=2)
    out: list[PunchIn] = []
    for day in days:
        for index, m in enumerate(people):
            if day < m.entered_on or (m.person == worker_person and day == skip_day):
                continue
            if m.post:
                if not _manager_present(day, index, slacker=False):
                    continue
            elif rng.random() < 0.12 and not (m.person == worker_person and day in (edge_day, late_day)):
                continue
            for direction, (lo, hi) in (("in", (7 * 60, 8 * 60)), ("out", (17 * 60 + 30, 18 * 60 + 30))):
                captured = _local(day, rng.uniform(lo, hi)).replace(microsecond=0)
                demo_worker = m.person == worker_person
                edge = rng.random() < 0.02 or (demo_worker and day == edge_day and direction == "in")
                if edge:  # outside the 30 m half-width by less than the fix's accuracy: near_edge
                    offset, accuracy = rng.choice((-1, 1)) * rng.uniform(36, 44), rng.uniform(18, 30)
                else:
                    offset, accuracy = rng.uniform(-20, 20), rng.uniform(5, 18)
                latency = rng.uniform(1.0, 6.0)
                if rng.random() < 0.01 or (demo_worker and day == late_day and direction == "out"):
                    latency = rng.uniform(45, 900)  # no signal: the phone's outbox sent it later
                received = captured + timedelta(seconds=latency)
                lon, lat = _road_point(rng, offset)
                fix = await fences.judge_fix(pid, lon, lat, accuracy, captured, rules=rules, server_now=received)
                out.append(PunchIn(
                    source=Source.mobile, project_id=pid, person_id=m.person, captured_at=captured,
                    received_at=received, idempotency_key=f"m:{m.person}:demo-{day:%Y%m%d}-{direction}",
                    lon=fix.lon, lat=fix.lat, accuracy_m=round(accuracy, 1), fence_id=fix.fence_id,
                    fence_distance_m=fix.distance_m, face_distance=round(rng.uniform(0.28, 0.45), 3),
                    liveness_passed=True, reasons=tuple(fix.reasons), flags=tuple(fix.flags),
                ))
    return out


async def _demo_attendance(rng: random.Random, step: Callable[[str, int], None], projects: dict[str, int],
                           members: dict[str, list[_Member]], gates: dict[str, int], worker_user: int,
                           worker_person: int) -> None:
    """Step 考勤记录: the history through ``record_punch``, one pending make-up request of the demo worker, the
    daily rollups, and the nightly warning evaluation replayed over the last days (in-site messages only)."""
    today = supervision.local_today()  # the projects' day (Asia/Shanghai), not the server's date
    days = [today - timedelta(days=n) for n in range(DEMO_HISTORY_DAYS, 0, -1)]
    makeup_day = today - timedelta(days=3)
    punches = _gate_punches(rng, projects["building"], gates, members["building"], days, today)
    punches += await _mobile_punches(rng, projects["road"], members["road"], days, today, worker_person, makeup_day)
    # Today so far: the morning's (and, late in the day, the evening's) punches that have already happened, so the
    # live views, the day's on-duty figures and the worker's history are not empty on first open.
    now = datetime.now(_DEMO_TZ)
    todays = _gate_punches(rng, projects["building"], gates, members["building"], [today], today)
    todays += await _mobile_punches(rng, projects["road"], members["road"], [today], today, worker_person, makeup_day)
    punches += [p for p in todays if (p.received_at or p.captured_at) <= now]
    punches.sort(key=lambda p: p.received_at or p.captured_at)
    # Each punch goes through record_punch (the one path: judged, stored once, published); a batch shares one write
    # transaction (its nested write_transaction joins it), so loading the history stays quick on SQLite.
    for i in range(0, len(punches), DEMO_PUNCH_BATCH):
        async with write_transaction():
            for p in punches[i:i + DEMO_PUNCH_BATCH]:
                await record_punch(p)
        step("考勤记录", 1)

    # The demo worker's phone had no signal that morning: a make-up request waiting for the authority (jianguan).
    user = accounts.CurrentUser(id=worker_user, username="gongren", display_name="道路工程工人", role=Role.worker,
                                person_id=worker_person)
    await request_makeup(user, person_id=worker_person, project_id=projects["road"],
                         punch_time=_local(makeup_day, 7 * 60 + 52), reason="network_failure",
                         note="路基段手机没有信号，未能打卡（演示）", direction="in", evidence=None, evidence_type=None)

    await supervision.rollup_days(days, today=today)
    for n in range(DEMO_EVALUATION_DAYS - 1, -1, -1):
        await supervision.evaluate_warnings(today - timedelta(days=n), sender=NullSender())
    step("考勤记录", 1)


async def load_demo(progress: Callable[[str, int], None] | None = None, people: int = 200) -> list[DemoAccount]:
    rng = random.Random(20261125)
    step = progress or (lambda _label, _n: None)
    today = supervision.local_today()  # China's day: the server's date.today() is UTC, a day behind before 08:00

    # A Jiangmen district is judged by the Jiangmen rule profile (seed 001; backend/rules.py PROFILES).
    district = await org.create_district("440703", "江门市蓬江区", rule_profile="jiangmen")
    ent = {}
    for key, name in (
        ("owner", "江门市滨江建设投资有限公司"),
        ("gc", "广东粤建工程集团有限公司"),
        ("sup", "江门市正衡工程监理有限公司"),
        ("labour", "江门市安居劳务有限公司"),
        ("spec", "广东华泰钢结构工程有限公司"),
        ("road", "江门市路桥建设有限公司"),
    ):
        ent[key] = await org.create_enterprise(name, fake_uscc(rng), registered_region="广东省江门市")
    step("企业", len(ent))

    projects = {
        "building": await org.create_project(
            name="江门市滨江新区安置房二期工程", district_id=district, category="building",
            permit_no="440703202603010101", address="江门市蓬江区滨江大道 88 号", floor_area_m2=68_500,
            contract_value_yuan=320_000_000, planned_start=today - timedelta(days=120), lon=113.0946, lat=22.6040,
        ),
        "road": await org.create_project(
            name="蓬江区杜阮至棠下连接线道路改造工程", district_id=district, category="municipal",
            permit_no="440703202605150201", address="蓬江区杜阮镇—棠下镇", contract_value_yuan=86_000_000,
            planned_start=today - timedelta(days=60), lon=113.0105, lat=22.6478,
        ),
        "suspended": await org.create_project(
            name="蓬江区第三人民医院综合楼", district_id=district, category="building",
            permit_no="440703202511200301", address="江门市蓬江区港口路 12 号", floor_area_m2=24_000,
            contract_value_yuan=150_000_000, planned_start=today - timedelta(days=300), lon=113.0801, lat=22.5902,
        ),
    }
    for key, pid in projects.items():
        started = today - timedelta(days={"building": 118, "road": 58, "suspended": 298}[key])
        await org.change_status(pid, "under_construction", effective_on=started, note="开工", user_id=None)
    await fences.create_demo_fences(projects["road"])
    step("项目", len(projects))

    units: dict[str, dict[str, int]] = {}
    teams: dict[str, dict[str, int]] = {}
    plan = {
        "building": [("owner", "owner"), ("gc", "general_contractor"), ("sup", "supervision_firm"),
                     ("labour", "labour_subcontractor"), ("spec", "specialist_subcontractor")],
        "road": [("owner", "owner"), ("road", "general_contractor"), ("sup", "supervision_firm"),
                 ("labour", "labour_subcontractor")],
        "suspended": [("owner", "owner"), ("gc", "general_contractor"), ("sup", "supervision_firm")],
    }
    for key, pid in projects.items():
        units[key] = {}
        for ent_key, unit_type in plan[key]:
            units[key][unit_type] = await org.add_unit(pid, ent[ent_key], unit_type, today - timedelta(days=130))
        teams[key] = {t["unit_type"]: t["id"] for t in await org.list_teams(pid)}
        work_unit = units[key].get("labour_subcontractor", units[key]["general_contractor"])
        for name in {"building": ["钢筋班组", "木工班组", "混凝土班组", "水电班组"],
                     "road": ["路基班组", "管网班组", "沥青摊铺班组"], "suspended": ["土建班组"]}[key]:
            teams[key][name] = await org.create_team(pid, work_unit, name)
    step("参建单位与班组", sum(len(u) for u in units.values()))

    key_posts = ["project_manager", "technical_lead", "quality_officer", "safety_officer",
                 "construction_officer", "labour_officer"]
    work_types = {"钢筋班组": "020", "木工班组": "240", "混凝土班组": "040", "水电班组": "130", "路基班组": "150",
                  "管网班组": "110", "沥青摊铺班组": "900", "土建班组": "010"}
    shares = {"building": 0.55, "road": 0.30, "suspended": 0.15}
    worker_person_for_account: int | None = None
    members: dict[str, list[_Member]] = {key: [] for key in projects}  # for the attendance history step
    created = 0
    for key, pid in projects.items():
        gc = units[key]["general_contractor"]
        for post in key_posts:
            person = await workforce.upsert_person(id_number=fake_id_number(rng), name=fake_name(rng),
                                                   phone=f"13{rng.randrange(100000000, 999999999)}")
            entry = await workforce.enter_roster(project_id=pid, person_id=person, unit_id=gc,
                                                 team_id=teams[key]["general_contractor"], work_role="manager",
                                                 post=post, entered_on=today - timedelta(days=110))
            await _demo_contract(pid, entry, today - timedelta(days=110))
            members[key].append(_Member(person, today - timedelta(days=110), post=post))
            created += 1
        person = await workforce.upsert_person(id_number=fake_id_number(rng), name=fake_name(rng))
        entry = await workforce.enter_roster(project_id=pid, person_id=person, unit_id=units[key]["supervision_firm"],
                                             team_id=teams[key]["supervision_firm"], work_role="manager",
                                             post="chief_supervising_engineer", entered_on=today - timedelta(days=110))
        await _demo_contract(pid, entry, today - timedelta(days=110))
        members[key].append(_Member(person, today - timedelta(days=110), post="chief_supervising_engineer"))
        created += 1
        worker_teams = [n for n in teams[key] if n in work_types]
        n_workers = int(people * shares[key]) - 7
        for i in range(max(0, n_workers)):
            team_name = worker_teams[i % len(worker_teams)]
            unit_id = units[key].get("labour_subcontractor", gc)
            person = await workforce.upsert_person(id_number=fake_id_number(rng), name=fake_name(rng))
            entered_on = today - timedelta(days=rng.randrange(5, 100))
            entry = await workforce.enter_roster(project_id=pid, person_id=person, unit_id=unit_id,
                                                 team_id=teams[key][team_name], work_role="worker",
                                                 work_type=work_types[team_name], entered_on=entered_on)
            if i % 12 != 11:  # a few without a contract: the roster shows 未签劳动合同，未下发到闸机 (seed 001 §五(十一))
                await _demo_contract(pid, entry, entered_on)
                members[key].append(_Member(person, entered_on))
            if key == "road" and worker_person_for_account is None:
                worker_person_for_account = person
            created += 1
            if created % 20 == 0:
                step("人员", 20)

    # The demo foreman (班组长) leads the road project's 路基班组 — the demo worker's team: a foreman sees
    # the teams they lead, nothing else of the project.
    foreman_person = await workforce.upsert_person(id_number=fake_id_number(rng), name=fake_name(rng),
                                                   phone=f"13{rng.randrange(100000000, 999999999)}")
    entry = await workforce.enter_roster(
        project_id=projects["road"], person_id=foreman_person,
        unit_id=units["road"].get("labour_subcontractor", units["road"]["general_contractor"]),
        team_id=teams["road"]["路基班组"], work_role="worker", work_type=work_types["路基班组"],
        entered_on=today - timedelta(days=58))
    await _demo_contract(projects["road"], entry, today - timedelta(days=58))
    await workforce.set_team_leader(projects["road"], teams["road"]["路基班组"], foreman_person)
    members["road"].append(_Member(foreman_person, today - timedelta(days=58)))
    created += 1

    made = await devices.create_vendor("广东示例智能科技有限公司")
    vendor = made.vendor_id
    save_demo_vendor_code(made.code)
    gates = {
        "in": await devices.register_terminal(projects["building"], "DEMO-GATE-01-IN", vendor, channel=1,
                                              direction="in"),
        "out": await devices.register_terminal(projects["building"], "DEMO-GATE-01-OUT", vendor, channel=1,
                                               direction="out"),
    }
    step("考勤设备", 2)
    step("人脸采集（演示合成）", await _demo_enrolments(members["building"], today))

    accounts_made = list(DEMO_ACCOUNTS)
    await accounts.create_user("admin", DEMO_PASSWORD, Role.admin, display_name="系统管理员")
    authority = await accounts.create_user("jianguan", DEMO_PASSWORD, Role.supervisor, display_name="蓬江区住建局",
                                           district_ids=[district])
    contractor = await accounts.create_user("zongbao", DEMO_PASSWORD, Role.enterprise, display_name="粤建集团",
                                            enterprise_id=ent["gc"])
    supervision_firm = await accounts.create_user("jianli", DEMO_PASSWORD, Role.enterprise, display_name="正衡监理",
                                             enterprise_id=ent["sup"])
    site_staff = await accounts.create_user("xiangmu", DEMO_PASSWORD, Role.project_staff, display_name="安置房项目部",
                                            project_ids=[projects["building"]])
    await accounts.create_user("banzu", DEMO_PASSWORD, Role.foreman, display_name="道路工程劳务员",
                               project_ids=[projects["road"]], person_id=foreman_person)
    worker_user = await accounts.create_user("gongren", DEMO_PASSWORD, Role.worker, display_name="道路工程工人",
                                             person_id=worker_person_for_account)
    await accounts.create_user("changshang", DEMO_PASSWORD, Role.vendor, display_name="示例智能科技", vendor_id=vendor)
    step("账号", len(accounts_made))

    # Status changes go through two-level approval (seed 004 §三(九) 停工, 二级审批).  The suspended project's 停工:
    # asked by the general contractor 20 days ago, approved by the supervision firm and then the authority.
    asked = datetime.combine(today - timedelta(days=20), time(9, 30), tzinfo=ZoneInfo("Asia/Shanghai"))
    req = await org.request_change(projects["suspended"], ChangeKind.status, ProjectStatus.suspended,
                                   reason="资金原因停工（演示）", user_id=contractor, now=asked)
    await org.decide_change(req["id"], level=1, approve=True, user_id=supervision_firm, role=Role.enterprise,
                            enterprise_id=ent["sup"], note="情况属实", now=asked + timedelta(hours=2))
    await org.decide_change(req["id"], level=2, approve=True, user_id=authority, role=Role.supervisor,
                            district_ids={district}, note="同意停工", now=asked + timedelta(hours=5))
    # One request still waiting for its first level: the building project's staff ask for a stop next week.
    await org.request_change(projects["building"], ChangeKind.status, ProjectStatus.suspended,
                             effective_on=today + timedelta(days=7), reason="春节前停工（演示：待审批，尚未生效）",
                             user_id=site_staff)

    assert worker_person_for_account is not None
    await _demo_attendance(rng, step, projects, members, gates, worker_user, worker_person_for_account)
    # 项目申报 (seed 001 §2.1): one pending and one returned application of 粤建集团 for jianguan, one passed (a 筹备
    # project with its staff account xm<id>, password demo2026, to be changed at first login).
    await demo_applications(applicant_user_id=contractor, authority_user_id=authority, district_id=district,
                            staff_password=DEMO_PASSWORD)
    step("项目申报", 3)
    step("设备接入申请", len(await onboarding_seed(vendor_id=vendor, authority_user_id=authority, district_id=district,
                                                 project_id=projects["building"])))  # issue 20 A: one per access step
    # The lifecycle queues (issue 15): a project in each state, a pending request of each kind, pending make-ups
    # with evidence for the authority's make-up queue.
    worker = await accounts.load_user(worker_user)
    worker_person = worker_person_for_account

    async def makeup(**kw: Any) -> Any:
        return await request_makeup(worker, person_id=worker_person, project_id=projects["road"], **kw)

    await demo_lifecycle(district_id=district, projects=projects, enterprises=ent, requester_user_id=contractor,
                         today=today, rng=rng, request_makeup=makeup)
    step("项目状态与补卡", 1)
    # Wages (issue 16): the road project's special account, deposit and two months of payroll with a few
    # deliberate mismatches, so the reconciliation page is not empty.
    await demo_wages(projects["road"], today=today)
    step("工资", 1)
    await demo_upkeep(terminals=gates, reporter_user_id=site_staff)  # repair tickets: open, overdue, repaired (issue 20)
    return accounts_made
