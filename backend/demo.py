"""Realistic demo data: one district, a building project with gates, a municipal road project, a
suspended project, enterprises, units, teams, ~200 people with key managers, two terminals, accounts."""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from backend.accounts import services as accounts
from backend.crew.services.contracts import ContractIn, record_contract
from backend.devices import services as devices
from backend.fences import services as fences
from backend.org import services as org
from backend.settings import get_settings
from backend.validators import id_check_char, uscc_check_char
from backend.vocabulary import ChangeKind, ProjectStatus, Role
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


async def load_demo(progress: Callable[[str, int], None] | None = None, people: int = 200) -> list[DemoAccount]:
    rng = random.Random(20261125)
    step = progress or (lambda _label, _n: None)
    today = date.today()

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
            created += 1
        person = await workforce.upsert_person(id_number=fake_id_number(rng), name=fake_name(rng))
        entry = await workforce.enter_roster(project_id=pid, person_id=person, unit_id=units[key]["supervision_firm"],
                                             team_id=teams[key]["supervision_firm"], work_role="manager",
                                             post="chief_supervising_engineer", entered_on=today - timedelta(days=110))
        await _demo_contract(pid, entry, today - timedelta(days=110))
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
    created += 1

    made = await devices.create_vendor("广东示例智能科技有限公司")
    vendor = made.vendor_id
    save_demo_vendor_code(made.code)
    await devices.register_terminal(projects["building"], "DEMO-GATE-01-IN", vendor, channel=1, direction="in")
    await devices.register_terminal(projects["building"], "DEMO-GATE-01-OUT", vendor, channel=1, direction="out")
    step("考勤设备", 2)

    accounts_made = list(DEMO_ACCOUNTS)
    await accounts.create_user("admin", DEMO_PASSWORD, Role.admin, display_name="系统管理员")
    authority = await accounts.create_user("jianguan", DEMO_PASSWORD, Role.supervisor, display_name="蓬江区住建局",
                                           district_ids=[district])
    contractor = await accounts.create_user("zongbao", DEMO_PASSWORD, Role.enterprise, display_name="粤建集团",
                                            enterprise_id=ent["gc"])
    supervision = await accounts.create_user("jianli", DEMO_PASSWORD, Role.enterprise, display_name="正衡监理",
                                             enterprise_id=ent["sup"])
    site_staff = await accounts.create_user("xiangmu", DEMO_PASSWORD, Role.project_staff, display_name="安置房项目部",
                                            project_ids=[projects["building"]])
    await accounts.create_user("banzu", DEMO_PASSWORD, Role.foreman, display_name="道路工程劳务员",
                               project_ids=[projects["road"]], person_id=foreman_person)
    await accounts.create_user("gongren", DEMO_PASSWORD, Role.worker, display_name="道路工程工人",
                               person_id=worker_person_for_account)
    await accounts.create_user("changshang", DEMO_PASSWORD, Role.vendor, display_name="示例智能科技", vendor_id=vendor)
    step("账号", len(accounts_made))

    # Status changes go through two-level approval (seed 004 §三(九) 停工, 二级审批).  The suspended project's 停工:
    # asked by the general contractor 20 days ago, approved by the supervision firm and then the authority.
    asked = datetime.combine(today - timedelta(days=20), time(9, 30), tzinfo=ZoneInfo("Asia/Shanghai"))
    req = await org.request_change(projects["suspended"], ChangeKind.status, ProjectStatus.suspended,
                                   reason="资金原因停工（演示）", user_id=contractor, now=asked)
    await org.decide_change(req["id"], level=1, approve=True, user_id=supervision, role=Role.enterprise,
                            enterprise_id=ent["sup"], note="情况属实", now=asked + timedelta(hours=2))
    await org.decide_change(req["id"], level=2, approve=True, user_id=authority, role=Role.supervisor,
                            district_ids={district}, note="同意停工", now=asked + timedelta(hours=5))
    # One request still waiting for its first level: the building project's staff ask for a stop next week.
    await org.request_change(projects["building"], ChangeKind.status, ProjectStatus.suspended,
                             effective_on=today + timedelta(days=7), reason="春节前停工（演示：待审批，尚未生效）",
                             user_id=site_staff)
    return accounts_made
