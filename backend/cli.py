"""The ``smz`` command: serve, migrate, demo, create-user, and the tools of the other domains."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from backend import db
from backend.errors import AppError
from backend.settings import get_settings
from backend.vocabulary import Role  # base layer: imports nothing (see _setup)

console = Console()
ROOT = Path(__file__).resolve().parent.parent


def _setup() -> None:
    os.environ.setdefault("PICCOLO_CONF", "piccolo_conf")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    logging.basicConfig(level=os.environ.get("SMZ_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("piccolo").setLevel(logging.WARNING)


async def migrate() -> None:
    try:
        await db.migrate()
    except db.MigrationFailed as exc:
        raise click.ClickException(str(exc)) from exc


def ensure_partitions() -> None:
    """PostgreSQL: the monthly partitions of ``punch`` up to 13 months ahead, after migrating (issue 18; two
    catalog queries when none is missing; nothing on SQLite).  ``smz serve``, ``smz gate-server``, ``smz migrate``."""
    if not get_settings().is_postgres:
        return
    from backend.attendance.partitions import ensure_line, ensure_month_partitions

    made = _run_db(ensure_month_partitions(), migrated=True)
    if made.created:
        console.print(ensure_line(made))


@click.group()
def main() -> None:
    """工地实名制考勤 — real-name attendance for construction sites."""
    _setup()


@main.command("migrate")
def migrate_cmd() -> None:
    """Create or upgrade the database schema (SQLite or PostgreSQL, from SMZ_DATABASE_URL)."""
    asyncio.run(migrate())
    ensure_partitions()
    console.print("[green]数据库已是最新结构 / database schema is up to date[/green]")


def uvicorn_proxy_options(trusted_proxies: tuple[str, ...]) -> dict[str, bool | list[str]]:
    """uvicorn believes X-Forwarded-For only from SMZ_TRUSTED_PROXIES; none configured = from nobody (its own
    default trusts 127.0.0.1, so any local process, or a proxy that passes the header on, could pick the
    address the login limiter counts).  backend.auth.client_address derives the address the same way."""
    if not trusted_proxies:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": list(trusted_proxies)}


async def _serve(host: str, port: int, gate_port: int | None, *, demo_platform: bool = False,
                 worker: bool = False) -> None:
    """One server process; ``worker``: one of ``smz serve --workers N`` (ports shared with SO_REUSEPORT; the
    parent migrated and reset the terminals' online marks)."""
    import uvicorn

    from backend.app import create_app
    from backend.runtime import gate_lifespan, upkeep_lifespan, uploader_lifespan
    from backend.serving import settle_heap

    await db.start_pool(warm=True)  # before the app's own start (which then keeps it): connections ready
    extra = [gate_lifespan(gate_port, reuse_port=worker, reset_online=not worker)] if gate_port else []
    if demo_platform:  # the demo's provincial platform: the simulator, every district pointed at it (issue 17)
        from backend.platform.demo import demo_platform_lifespan

        extra.append(demo_platform_lifespan())
    if get_settings().uploader_in_serve:  # SMZ_UPLOADER=0: run `smz uploader` separately (or not at all)
        extra.append(uploader_lifespan())
    extra.append(upkeep_lifespan())  # device faults, repair escalation, late acceptances every minute (issue 20)
    app = create_app(extra_lifespan=extra or None)
    settle_heap()
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="info", lifespan="on",
                                           **uvicorn_proxy_options(get_settings().trusted_proxies)))  # type: ignore[arg-type]
    if worker:
        from backend.serving import reuse_port_socket

        await server.serve(sockets=[reuse_port_socket(host, port)])
    else:
        await server.serve()


@main.command("serve")
@click.option("--host", default=None, help="web host (SMZ_HOST, default 127.0.0.1)")
@click.option("--port", default=None, type=int, help="web port (SMZ_PORT, default 8000)")
@click.option("--gate-port", default=None, type=int, help="gate TCP port (SMZ_GATE_PORT, default 9848; 0 = off)")
@click.option("--production", is_flag=True, help="refuse to start without SMZ_SECRET_KEY")
@click.option("--workers", default=None, type=int,
              help="server processes sharing the ports (SMZ_WORKERS, default 1; more than 1 needs PostgreSQL)")
@click.option("--worker", is_flag=True, hidden=True, help="run as one of --workers N (started by the parent)")
def serve_cmd(host: str | None, port: int | None, gate_port: int | None, production: bool, workers: int | None,
              worker: bool) -> None:
    """Run the web app and the gate TCP server (``--workers N``: N processes, docs/deployment.md)."""
    s = get_settings()
    if production and not s.secret_key_from_env:
        raise click.ClickException("生产模式必须设置 SMZ_SECRET_KEY / set SMZ_SECRET_KEY in production")
    host, port, gate = host or s.host, port or s.port, s.gate_port if gate_port is None else gate_port
    if worker:
        asyncio.run(_serve(host, port, gate, worker=True))
        return
    n = workers if workers is not None else int(os.environ.get("SMZ_WORKERS", "1") or 1)
    if n < 1:
        raise click.BadParameter("至少 1 个进程 / at least 1", param_hint="--workers")
    if n > 1 and not s.is_postgres:
        raise click.ClickException("多进程运行需要 PostgreSQL（SQLite 只支持单进程）/ "
                                   "--workers above 1 needs PostgreSQL (SQLite is single-process)")
    asyncio.run(migrate())
    ensure_partitions()
    if n == 1:
        asyncio.run(_serve(host, port, gate))
        return
    from backend.devices.services import reset_online
    from backend.serving import run_workers

    _run_db(reset_online())  # once, here: a worker starting later must not mark its siblings' terminals offline
    sys.exit(run_workers(n, host, port, gate))


@main.command("demo")
@click.option("--no-serve", is_flag=True, help="load the demo data only")
@click.option("--people", default=200, show_default=True, help="number of people")
def demo_cmd(no_serve: bool, people: int) -> None:
    """Load demo data into an empty database (SQLite by default) and start the product."""
    s = get_settings()

    async def load() -> list[object] | None:
        await migrate()
        from backend.org.tables import District

        await db.start_pool()
        try:
            if await District.count() > 0:
                return None
            from backend.demo import load_demo

            with Progress(console=console) as progress:
                task = progress.add_task("生成演示数据", total=people + 20)

                def step(label: str, n: int) -> None:
                    progress.update(task, advance=n, description=f"生成演示数据：{label}")

                made = await load_demo(step, people=people)
                progress.update(task, completed=people + 20)
            return list(made)
        finally:
            await db.close_pool()

    made = asyncio.run(load())
    from backend.demo import DEMO_ACCOUNTS, DEMO_PASSWORD, DemoAccount

    table = Table(title="演示账号 / demo accounts (密码 password: " + DEMO_PASSWORD + ")")
    for col in ("用户名 username", "角色 role", "说明"):
        table.add_column(col)
    rows = made or list(DEMO_ACCOUNTS)
    for a in rows:
        assert isinstance(a, DemoAccount)
        table.add_row(a.username, a.role, a.note)
    if made is None:
        console.print("[yellow]数据库已有数据，未重新生成演示数据 / database not empty, demo data kept[/yellow]")
    console.print(table)
    console.print(f"数据库 / database: {s.database_url}")
    if no_serve:
        return
    console.print(f"打开 / open: http://{s.host}:{s.port}    闸机端口 / gate TCP port: {s.gate_port or '关闭 off'}")
    # Demo mode (Settings.demo_mode): the demo worker may enrol their own face at the first phone clock-in.
    os.environ["SMZ_DEMO_MODE"] = "1"
    get_settings.cache_clear()
    console.print("省平台模拟器 / platform simulator: http://127.0.0.1:9850/api（上传省厅结果查询: /platform/results）")
    asyncio.run(_serve(s.host, s.port, s.gate_port, demo_platform=True))


@main.command("create-user")
@click.argument("username")
@click.option("--role", required=True,
              type=click.Choice([r.value for r in Role]))
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--name", default=None, help="display name")
@click.option("--district", "districts", multiple=True, type=int, help="district id (supervisor)")
@click.option("--project", "projects", multiple=True, type=int, help="project id (staff, foreman)")
@click.option("--enterprise", default=None, type=int)
@click.option("--vendor", default=None, type=int)
@click.option("--person", default=None, type=int)
def create_user_cmd(username: str, role: str, password: str, name: str | None, districts: tuple[int, ...],
                    projects: tuple[int, ...], enterprise: int | None, vendor: int | None, person: int | None) -> None:
    """Create a user account."""
    from backend.accounts.services import create_user

    async def run() -> int:
        await migrate()
        await db.start_pool()
        try:
            return await create_user(username, password, role, display_name=name, district_ids=list(districts),
                                     project_ids=list(projects), enterprise_id=enterprise, vendor_id=vendor,
                                     person_id=person)
        finally:
            await db.close_pool()

    try:
        uid = asyncio.run(run())
    except AppError as exc:
        raise click.ClickException(str(exc)) from exc
    console.print(f"[green]已创建用户 / user created: {username} (id {uid})[/green]")


# --- Gate terminals ---------------------------------------------------------------------------


async def _run_gate_server(host: str | None, port: int, *, worker: bool = False) -> None:
    """One gate server process; ``worker``: one of ``smz gate-server --workers N`` (the port shared with
    SO_REUSEPORT; the parent migrated and reset the terminals' online marks)."""
    import signal

    from backend.runtime import AppServices
    from backend.serving import settle_heap

    await db.start_pool(warm=True)
    services = AppServices.build()  # this process's services: the gate server works with them
    try:
        server = await services.start_gate_server(port, host, reuse_port=worker, reset_online=not worker)
        settle_heap()
        console.print(f"[green]闸机 TCP 服务已启动 / gate server listening on {server.host}:{server.port}[/green]"
                      "（Ctrl+C 停止 / to stop）")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            console.print(f"正在停止，{server.connection_count} 个连接将关闭，所有设备标记为离线 / stopping …")
            await server.close()
    finally:
        await services.aclose()  # the face workers, the parse workers
        await db.close_pool()
    console.print("[green]闸机服务已停止 / gate server stopped[/green]")


@main.command("gate-server")
@click.option("--port", default=None, type=int, help="gate TCP port (SMZ_GATE_PORT, default 9848; 0 = any free port)")
@click.option("--host", default=None, help="listen address (SMZ_GATE_HOST, default 127.0.0.1)")
@click.option("--workers", default=1, type=int, show_default=True,
              help="processes sharing the port (more than 1 needs PostgreSQL and a fixed --port)")
@click.option("--worker", is_flag=True, hidden=True, help="run as one of --workers N (started by the parent)")
def gate_server_cmd(port: int | None, host: str | None, workers: int, worker: bool) -> None:
    """Run only the gate terminal TCP server (seed 001 protocol), after migrating the database."""
    s = get_settings()
    host, port = host or s.gate_host, s.gate_port if port is None else port
    if worker:
        asyncio.run(_run_gate_server(host, port, worker=True))
        return
    if workers < 1:
        raise click.BadParameter("至少 1 个进程 / at least 1", param_hint="--workers")
    if workers > 1 and (not s.is_postgres or port == 0):
        raise click.ClickException("多进程运行需要 PostgreSQL 和固定端口 / --workers above 1 needs PostgreSQL and a "
                                   "fixed --port")
    asyncio.run(migrate())
    ensure_partitions()
    if workers > 1:
        from backend.devices.services import reset_online
        from backend.serving import gate_worker_command, run_workers

        _run_db(reset_online())  # once, here (as smz serve --workers)
        sys.exit(run_workers(workers, host, 0, port, cmd=gate_worker_command(host, port)))
    try:
        asyncio.run(_run_gate_server(host, port))
    except OSError as exc:
        raise click.ClickException(f"无法监听 {host}:{port} / cannot listen on {host}:{port}: {exc.strerror or exc}") from exc


@main.command("create-vendor")
@click.argument("name")
@click.option("--enterprise", default=None, type=int, help="enterprise id of the vendor")
@click.option("--phone", default=None, help="contact phone")
def create_vendor_cmd(name: str, enterprise: int | None, phone: str | None) -> None:
    """Register a device vendor; prints its vendor code (厂家识别码) — the only time it is shown."""
    from backend.devices.services import create_vendor

    made = _run_db(create_vendor(name, enterprise_id=enterprise, contact_phone=phone))
    console.print(f"[green]已创建设备厂商 / vendor created: {name} (id {made.vendor_id})[/green]")
    console.print(f"厂家识别码 / vendor code: [bold]{made.code}[/bold]")
    console.print("只显示这一次，请配置到设备并妥善保管 / shown only this once: configure it on the devices, keep it safe")


@main.command("rotate-vendor-code")
@click.argument("vendor_id", type=int)
def rotate_vendor_code_cmd(vendor_id: int) -> None:
    """A new vendor code (shown once); the old one stops working (a running gate server in another
    process refuses its connections within seconds)."""
    from backend.devices.services import rotate_vendor_code

    made = _run_db(rotate_vendor_code(vendor_id))
    console.print(f"新厂家识别码 / new vendor code: [bold]{made.code}[/bold]")
    console.print("只显示这一次 / shown only this once")


def _run_db(coro: Any, *, migrated: bool = False) -> Any:
    """Run one service call with the database migrated (``migrated``: the caller just did) and the pool open;
    AppError → a clean message."""

    async def run() -> Any:
        if not migrated:
            await migrate()
        await db.start_pool()
        try:
            return await coro
        finally:
            await db.close_pool()

    try:
        return asyncio.run(run())
    except AppError as exc:
        raise click.ClickException(f"{exc.zh} / {exc.en}") from exc


@main.command("simulate-gate")
@click.option("--host", default="127.0.0.1", show_default=True, help="gate server address")
@click.option("--port", default=None, type=int, help="gate server port (SMZ_GATE_PORT, default 9848)")
@click.option("--vendor", default=None, envvar="SMZ_SIM_VENDOR_CODE",
              help="vendor code (厂家识别码; env SMZ_SIM_VENDOR_CODE); default: the demo's, from <data dir>/demo-vendor-code")
@click.option("--serial", default="DEMO-GATE-01-IN", show_default=True,
              help="device serial; with --terminals N the prefix of N serials (<serial>0001 …)")
@click.option("--terminals", default=1, show_default=True, type=click.IntRange(1, 10_000),
              help="simulate this many terminals at once (load test)")
@click.option("--punches", default=3, show_default=True, type=click.IntRange(0), help="punches per terminal")
@click.option("--worker-no", "worker_nos", multiple=True, type=int,
              help="punch for these worker numbers (default: the whitelist)")
@click.option("--late", "late_s", default=0.0, show_default=True, type=float,
              help="capture time this many seconds before now (over 5 s: a late upload)")
@click.option("--tz", default="Asia/Shanghai", show_default=True, help="the terminal clock's time zone")
@click.option("--photo", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="punch photo (default: generated JPEGs)")
@click.option("--enrol-photo", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="a real face photo: enrol a person with it first (852), then look them up (845)")
@click.option("--enrol-id", default=None, help="ID number of the enrolled person (default: a generated one)")
@click.option("--enrol-name", default="张三", show_default=True)
@click.option("--interval", "interval_s", default=0.0, type=float, help="pause between punches (seconds)")
@click.option("--register", "register_project", default=None, type=int,
              help="first register the simulated serials to this project id (needs the database)")
def simulate_gate_cmd(host: str, port: int | None, vendor: str | None, serial: str, terminals: int, punches: int,
                      worker_nos: tuple[int, ...], late_s: float, tz: str, photo: Path | None,
                      enrol_photo: Path | None, enrol_id: str | None, enrol_name: str, interval_s: float,
                      register_project: int | None) -> None:
    """Simulate gate terminals: login, whitelist, punches with real JPEGs, enrolment (replies in Chinese).

    After ``smz demo`` the defaults talk to the demo's terminal DEMO-GATE-01-IN on the local gate port.
    """
    from backend.demo import read_demo_vendor_code
    from backend.devices.simulate import SimOptions, run_many, run_one, summary_zh
    from device_tcp.frames import ProtocolError

    vendor = vendor or read_demo_vendor_code()
    if not vendor:
        raise click.ClickException("请用 --vendor 给出厂家识别码（或先运行 smz demo）/ "
                                   "give the vendor code with --vendor (or run smz demo first)")

    opts = SimOptions(
        host=host, port=port or get_settings().gate_port or 9848, vendor=vendor, serial=serial, terminals=terminals,
        punches=punches, worker_nos=worker_nos, late_s=late_s, tz=tz, photo=photo, enrol_photo=enrol_photo,
        enrol_id=enrol_id, enrol_name=enrol_name, interval_s=interval_s,
    )
    if register_project is not None:
        serials = [serial] if terminals == 1 else [f"{serial}{i + 1:04d}" for i in range(terminals)]

        async def register() -> int:
            from backend.devices.services import ensure_terminals

            await migrate()
            await db.start_pool()
            try:
                return await ensure_terminals(register_project, vendor, serials)
            finally:
                await db.close_pool()

        try:
            added = asyncio.run(register())
        except AppError as exc:
            raise click.ClickException(exc.zh) from exc
        console.print(f"已登记 {added} 台新设备到项目 {register_project}（共 {len(serials)} 台）")
    try:
        if terminals == 1:
            code = asyncio.run(run_one(opts, console))
        else:
            result = asyncio.run(run_many(opts, console))
            console.print(summary_zh(opts, result))
            code = 0 if not result.errors and not result.refused else 1
    except (OSError, TimeoutError, ConnectionError, ProtocolError) as exc:
        raise click.ClickException(f"无法连接闸机服务 {host}:{opts.port}：{exc!r}") from exc
    sys.exit(code)


# --- Supervision: rollups and warnings (backend/supervision/jobs.py; docs/supervision.md) --------------------


@main.command("rollup")
@click.option("--day", "days", multiple=True, type=click.DateTime(["%Y-%m-%d"]), help="a day to (re)compute, YYYY-MM-DD")
@click.option("--month", default=None, help="every past day of a month, YYYY-MM")
def rollup_cmd(days: tuple[object, ...], month: str | None) -> None:
    """Daily attendance rollups (valid days per person).  Without options: the nightly set — yesterday, missed
    days and days that received late uploads since the last run."""
    from backend.supervision.jobs import cli_rollup

    cli_rollup(console, days, month)


@main.command("warnings")
@click.option("--today", default=None, type=click.DateTime(["%Y-%m-%d"]), help="run as of this day (default today)")
@click.option("--district", default=None, type=int, help="only this district's projects")
@click.option("--notify/--no-notify", default=True, help="send in-site messages and SMS (seed 001 §2.11.2)")
def warnings_cmd(today: object, district: int | None, notify: bool) -> None:
    """Detect warnings (yellow; red when not fixed within 5 days, seed 000 §三) and notify."""
    from backend.supervision.jobs import cli_warnings

    cli_warnings(console, today, district, notify)


@main.command("nightly")
@click.option("--loop", is_flag=True, help="keep running: one run every day at --at (a scheduler process)")
@click.option("--at", "at", default="01:00", show_default=True, help="local time of the daily run (HH:MM)")
def nightly_cmd(loop: bool, at: str) -> None:
    """Nightly job: rollups of yesterday (and late uploads), then warnings and notifications, then the wages
    reconciliation (issue 16) and the later layers' steps.  Run it from cron
    (``0 1 * * * smz nightly``) or keep it running with --loop."""
    from backend.supervision.jobs import cli_nightly
    from backend.wages.reconcile import run_wages

    async def wages() -> str:
        out = await run_wages()
        return f"工资核对：{out['projects']} 个项目，发现 {out['findings']} 个问题"

    from backend.attendance.partitions import nightly_step as partitions_step
    from backend.privacy.retention import nightly_step as retention_step
    from backend.upkeep.jobs import nightly_step as upkeep_step

    cli_nightly(console, loop, at, after=[("正在核对工资与考勤…", wages), ("正在清理保存期满的个人信息…", retention_step),
                                        ("正在检查设备故障与运维时限…", upkeep_step),
                                        ("正在检查打卡表按月分区…", partitions_step)])


# --- Monthly partitions of punch on PostgreSQL (backend/attendance/partitions.py; issue 18; docs/deployment.md) ---


@main.group("partitions")
def partitions_group() -> None:
    """Monthly partitions of the punch table (PostgreSQL only)."""


def _need_partitions() -> None:
    if not get_settings().is_postgres:
        raise click.ClickException("打卡表只在 PostgreSQL 上按月分区 / punch is partitioned on PostgreSQL only")


@partitions_group.command("list")
@click.option("--exact", is_flag=True, help="count every partition's rows (reads them all) instead of estimating")
def partitions_list_cmd(exact: bool) -> None:
    """The partitions of punch, their local_date ranges and row counts (the planner's estimates by default)."""
    from backend.attendance.partitions import list_partitions

    _need_partitions()
    table = Table("分区 / partition", "起 / from", "止（不含）/ to", "行数 / rows" if exact else "约行数 / rows (est.)")
    for p in _run_db(list_partitions(counts=exact)):
        n = p.rows if exact else p.approx_rows
        table.add_row(p.name, p.start or "默认 / DEFAULT", p.end or "", "—" if n is None else str(n))
    console.print(table)


@partitions_group.command("ensure")
@click.option("--ahead", default=None, type=click.IntRange(0, 120),
              help="months ahead (default: partitions.AHEAD_MONTHS, the servers' own)")
def partitions_ensure_cmd(ahead: int | None) -> None:
    """Create the missing monthly partitions up to --ahead months (smz nightly and the servers' start do it)."""
    from backend.attendance.partitions import AHEAD_MONTHS, ensure_line, ensure_month_partitions

    _need_partitions()
    console.print(ensure_line(_run_db(ensure_month_partitions(AHEAD_MONTHS if ahead is None else ahead))))


@partitions_group.command("drop")
@click.option("--before", "before", required=True, help="drop months before this one (YYYY-MM)")
@click.option("--yes", is_flag=True, help="really drop (default: a dry run listing what would go)")
def partitions_drop_cmd(before: str, yes: bool) -> None:
    """Drop monthly partitions before --before whose every punch belongs to a project past the 用工管理台账's
    keeping (Rules.ledger_retention_years after 竣工, all wages paid).  Retention keeps punch facts otherwise."""
    from backend.attendance.partitions import drop_partitions, parse_month, plan_drop
    from backend.privacy.retention import due_projects

    _need_partitions()
    try:
        parse_month(before)
    except ValueError as exc:
        raise click.BadParameter("应为 YYYY-MM / expected YYYY-MM", param_hint="--before") from exc

    async def run() -> Any:
        allowed = {d.project_id for d in await due_projects() if d.ledger_due}
        return await (drop_partitions(before, allowed) if yes else plan_drop(before, allowed))

    items = _run_db(run())
    if not items:
        console.print(f"{before} 以前没有按月分区 / no monthly partition before {before}")
    for it in items:
        if it.dropped:
            console.print(f"[green]已删除 {it.name}（{it.rows} 条打卡）/ dropped[/green]")
        elif it.droppable:
            console.print(f"将删除 {it.name}（{it.rows} 条打卡，{len(it.projects)} 个项目，台账保存期均已满）"
                          "— 试运行，加 --yes 执行 / dry run, add --yes")
        else:
            live = "、".join(str(p) for p in it.blocking[:20]) + ("…" if len(it.blocking) > 20 else "")
            console.print(f"[yellow]保留 {it.name}（{it.rows} 条打卡）：项目 {live} 的台账保存期未满 / kept: "
                          "projects not past the ledger's keeping[/yellow]")


# --- Privacy: retention and key rotation (backend/privacy; issue 20 B.2, B.5; docs/security.md) -------------


@main.command("retention")
@click.option("--dry-run", is_flag=True, help="only report what would be deleted or masked (changes nothing)")
@click.option("--today", default=None, type=click.DateTime(["%Y-%m-%d"]), help="run as of this day (default today)")
def retention_cmd(dry_run: bool, today: object) -> None:
    """Delete faces, templates, punch photos and ID scans, and mask ID and bank card numbers, of projects past the
    district's retention after 竣工 (seed 002 §三(二)2, seed 004 §三(五)); attendance and wage facts stay."""
    from datetime import datetime as _dt

    from backend.privacy.retention import report_lines, run_retention

    day = today.date() if isinstance(today, _dt) else None
    items = _run_db(run_retention(day, dry_run=dry_run))
    for line in report_lines(items, dry_run=dry_run):
        console.print(line)


@main.command("rotate-key")
@click.option("--check", is_flag=True, help="only count what is still under an old key (changes nothing)")
def rotate_key_cmd(check: bool) -> None:
    """Re-encrypt every ID, account and card number (and re-hash ID look-ups) under SMZ_SECRET_KEY, in batches,
    while the app keeps serving; --check reports what still needs an old key of SMZ_OLD_SECRET_KEYS."""
    from backend.privacy import rotate

    rep = _run_db(rotate.check() if check else rotate.rotate_key())
    for line in rotate.report_lines(rep, checking=check):
        console.print(line)
    if check and (rep.left or rep.vendors_to_reissue):
        sys.exit(1)


@main.command("upkeep")
def upkeep_cmd() -> None:
    """Device upkeep (issue 20), once: fault detection → repair tickets (seed 002 §五.1), escalation of repairs not
    done within 24 h (§五.4), late compliance acceptances (§四.5).  `smz serve` runs it every minute."""
    from backend.supervision.jobs import run_job
    from backend.supervision.sms import sender_from_env
    from backend.upkeep.jobs import run_once

    s = run_job(lambda: run_once(sms=sender_from_env()))
    console.print(f"设备运维：检查 {s.terminals} 台设备，新维修工单 {len(s.opened)}，维修超时 {len(s.escalated)}，"
                  f"合规验收逾期 {len(s.acceptances_late)}")


@main.command("wages")
@click.option("--today", default=None, type=click.DateTime(["%Y-%m-%d"]), help="run as of this day (default today)")
@click.option("--notify/--no-notify", default=True, help="send in-site messages and SMS for new and red warnings")
def wages_cmd(today: object, notify: bool) -> None:
    """Wages (issue 16): reconcile the recent months of every project with attendance and the wage warnings
    (no approved special account / no deposit, unpaid wages; seed 000 §三, §七).  ``smz nightly`` runs it too."""
    from datetime import datetime as _dt

    from backend.supervision.jobs import run_job
    from backend.wages.reconcile import run_wages

    day = today.date() if isinstance(today, _dt) else None
    out = run_job(lambda: run_wages(day, notify=notify))
    console.print(f"工资核对：{out['projects']} 个项目，发现 {out['findings']} 个问题")


# --- Districts and rule profiles (backend/rules.py PROFILES; docs/rules.md) -----------------------------------


@main.command("create-district")
@click.argument("code")
@click.argument("name")
@click.option("--profile", "profile", default="baseline", show_default=True,
              help="rule profile: baseline | jiangxi | jiangmen | changde | zhongshan (smz rules profiles)")
def create_district_cmd(code: str, name: str, profile: str) -> None:
    """Register a district (区县, its housing authority) with the rule profile that judges its projects."""
    from backend.org.services import create_district

    district_id = _run_db(create_district(code, name, rule_profile=profile))
    console.print(f"区县 / district {district_id}: {name}（判定规则 {profile}）")


@main.group("rules")
def rules_group() -> None:
    """Rule profiles and which rules judged a project."""


@rules_group.command("profiles")
def rules_profiles_cmd() -> None:
    """List the rule profiles (one per seed jurisdiction) and what differs between them."""
    from backend.org.services import rule_profiles

    for p in rule_profiles():
        console.print(f"[bold]{p['name']}[/bold]  {p['label']}  (seed {p['seed']})")
        console.print(f"  纳入范围：{p['scope_label']}")
        console.print(f"  管理人员考勤：{p['manager_start_label']}")
        console.print(f"  上传时限：{p['latency_label']}")


@rules_group.command("set-profile")
@click.argument("district_id", type=int)
@click.argument("profile")
def rules_set_profile_cmd(district_id: int, profile: str) -> None:
    """Choose the rule profile of a district (an unknown name is refused and nothing changes)."""
    from backend.org.services import set_rule_profile

    _run_db(set_rule_profile(district_id, profile))
    console.print(f"区县 {district_id} 的判定规则已设为 {profile} / district {district_id} now uses profile {profile}")


@rules_group.command("explain")
@click.argument("project_id", type=int)
@click.option("--month", default=None, help="the month whose verdicts to explain, YYYY-MM (default: this month)")
def rules_explain_cmd(project_id: int, month: str | None) -> None:
    """Which rule profile judged a project, and each rule of a month with its clause, inputs and verdict."""
    from backend.supervision.services.common import local_today
    from backend.supervision.services.explain import explain_project_month

    e = _run_db(explain_project_month(project_id, month or f"{local_today():%Y-%m}"))
    console.print(f"[bold]{e.project_name}[/bold]（{e.district_name}）")
    console.print(f"判定规则 / rule profile: {e.profile_label} [{e.profile}]" + (f"  月份 {e.month}" if e.month else ""))
    for line in e.lines:
        console.print(f"- [bold]{line.rule}[/bold] ({line.clause}): {line.verdict}")
        console.print("    " + ", ".join(f"{k}={v}" for k, v in line.inputs.items()), markup=False)


# --- Worker platform simulator (issue 17) ---------------------------------------------------------------


async def _run_platform_sim(host: str, port: int, cfg: dict[str, Any]) -> None:
    import signal

    from backend.platform.simulator import start_simulator

    handle = await start_simulator(host, port, **cfg)
    console.print(f"[green]省平台模拟器已启动 / platform simulator listening: {handle.url}[/green]"
                  f"（appid {cfg['appid']}，处理延时 {cfg['delay']:g} 秒；Ctrl+C 停止 / to stop）")
    console.print(f"切换模式 / switch mode: curl -X POST -d '{{\"mode\": \"drop\"}}' "
                  f"http://{handle.host}:{handle.port}/__sim/mode ；统计 / stats: "
                  f"http://{handle.host}:{handle.port}/__sim/stats")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await handle.stop()


@main.command("platform-sim")
@click.option("--port", default=9850, type=int, show_default=True, help="listen port (0 = any free port)")
@click.option("--host", default="127.0.0.1", show_default=True, help="listen address")
@click.option("--appid", required=True, help="the appid the simulator accepts")
@click.option("--appsecret", required=True, help="its appsecret (signs every request)")
@click.option("--delay", default=2.0, type=float, show_default=True, help="seconds until an accepted write is processed")
@click.option("--fail-rate", default=0.0, type=float, show_default=True, help="share of writes that fail asynchronously")
@click.option("--drop-rate", default=0.0, type=float, show_default=True,
              help="share of requests done but answered by closing the connection")
@click.option("--error-rate", default=0.0, type=float, show_default=True, help="share of requests answered HTTP 503")
@click.option("--rate-limit", default=0.0, type=float, show_default=True,
              help="calls per second per appid before -5 访问超过限制 (0 = no limit)")
@click.option("--mode", default="normal", show_default=True,
              type=click.Choice(["normal", "fail", "timeout", "drop", "5xx", "html", "garbage"]))
def platform_sim_cmd(port: int, host: str, appid: str, appsecret: str, delay: float, fail_rate: float,
                     drop_rate: float, error_rate: float, rate_limit: float, mode: str) -> None:
    """Run a local provincial/national worker platform (seed 003 interface) for demos and tests."""
    for name, rate in (("--fail-rate", fail_rate), ("--drop-rate", drop_rate), ("--error-rate", error_rate)):
        if not 0 <= rate <= 1:
            raise click.BadParameter("must be between 0 and 1", param_hint=name)
    cfg = {"appid": appid, "appsecret": appsecret, "delay": delay, "fail_rate": fail_rate, "drop_rate": drop_rate,
           "error_rate": error_rate, "rate_limit": rate_limit, "mode": mode}
    try:
        asyncio.run(_run_platform_sim(host, port, cfg))
    except OSError as exc:
        raise click.ClickException(f"无法监听 {host}:{port} / cannot listen on {host}:{port}: {exc.strerror or exc}") from exc


# --- Upload to the worker platform (issue 17) ----------------------------------------------------------------


async def _run_uploader(drain: bool) -> None:
    import signal

    from backend.platform import services as platform_services
    from backend.platform.uploader import Uploader
    from backend.wages.upload import PROVIDERS

    await db.start_pool()
    try:
        uploader = Uploader(providers=PROVIDERS)
        if drain:  # work until the outbox is empty (scripts, the benchmark)
            try:
                await uploader.drain(timeout_s=24 * 3600)
            finally:
                await uploader.aclose()
            console.print(f"[green]上传队列已清空 / outbox drained: {await platform_services.task_counts()}[/green]")
            return
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        console.print("[green]省平台上传服务已启动 / uploader running[/green]（Ctrl+C 停止 / to stop）")
        await uploader.run(stop)
    finally:
        await db.close_pool()


@main.command("uploader")
@click.option("--drain", is_flag=True, help="exit when no upload task is open (default: run until stopped)")
def uploader_cmd(drain: bool) -> None:
    """Upload changes to the provincial/national worker platform (one leader among processes)."""
    asyncio.run(migrate())
    asyncio.run(_run_uploader(drain))


@main.command("platform-account")
@click.option("--district", "district_id", required=True, type=int, help="district id")
@click.option("--project", "project_id", default=None, type=int, help="only for this project (default: the district)")
@click.option("--url", required=True, help="the platform's endpoint, e.g. https://…/api")
@click.option("--appid", required=True)
@click.option("--appsecret", envvar="SMZ_PLATFORM_APPSECRET", prompt=True, hide_input=True,
              help="the appsecret (or SMZ_PLATFORM_APPSECRET; prompted when neither)")
def platform_account_cmd(district_id: int, project_id: int | None, url: str, appid: str, appsecret: str) -> None:
    """Store the platform account (appid + encrypted appsecret) of a district or project."""
    from backend.platform.services import set_credentials

    _run_db(set_credentials(district_id, url, appid, appsecret, project_id=project_id))
    console.print(f"[green]已保存省平台账号 / platform account saved: district {district_id}, appid {appid}[/green]")



# --- Punch photos: the content-addressed photo store (backend/photostore.py; issue 18; docs/deployment.md) -----


@main.group("photos")
def photos_group() -> None:
    """Punch photos in the photo store (SMZ_PHOTO_STORE): move legacy rows in, sweep orphan files."""


@photos_group.command("migrate")
@click.option("--dry-run", is_flag=True, help="only count the legacy photo rows (changes nothing)")
@click.option("--batch", default=500, show_default=True, type=click.IntRange(1, 10_000), help="rows per transaction")
def photos_migrate_cmd(dry_run: bool, batch: int) -> None:
    """Move punch photos from the database (punch_photo) into the photo store, in batches; resumable."""
    from backend.attendance import photo_migration

    def progress(n: int, total: int) -> None:
        console.print(f"已迁移 {n} / {total} 张打卡照片")

    rep = _run_db(photo_migration.migrate(batch=batch, dry_run=dry_run, progress=progress))
    if dry_run:
        console.print(f"待迁移 {rep.total} 张打卡照片（试运行，未做任何修改）/ {rep.total} to move (dry run)")
    else:
        console.print(f"[green]完成：已迁移 {rep.moved} 张打卡照片 / moved {rep.moved}[/green]")


@photos_group.command("sweep")
@click.option("--delete", is_flag=True, help="delete the orphan files (default: only report them)")
@click.option("--min-age", "min_age_s", default=3600.0, show_default=True, type=click.FloatRange(0),
              help="only files last written at least this many seconds ago")
def photos_sweep_cmd(delete: bool, min_age_s: float) -> None:
    """Find (and with --delete remove) photo files that no punch holds: left by failed writes or stopped runs."""
    from backend.attendance import photo_migration

    rep = _run_db(photo_migration.sweep(min_age_s=min_age_s, delete=delete))
    tail = f"已删除 {rep.deleted}" if delete else "未删除（加 --delete 删除）"
    console.print(f"检查 {rep.checked} 个照片文件，无打卡引用 {rep.orphans} 个，{tail}")


if __name__ == "__main__":
    main()
