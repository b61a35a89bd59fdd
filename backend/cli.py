"""The ``smz`` command: serve, migrate, demo, create-user, and the tools of the other domains."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

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
    from piccolo.apps.migrations.commands.forwards import run_forwards

    result = await run_forwards(app_name="all")
    if not result.success:
        raise click.ClickException(f"数据库迁移失败 / migration failed: {result.message}")


@click.group()
def main() -> None:
    """工地实名制考勤 — real-name attendance for construction sites."""
    _setup()


@main.command("migrate")
def migrate_cmd() -> None:
    """Create or upgrade the database schema (SQLite or PostgreSQL, from SMZ_DATABASE_URL)."""
    asyncio.run(migrate())
    console.print("[green]数据库已是最新结构 / database schema is up to date[/green]")


async def _serve(host: str, port: int, gate_port: int | None) -> None:
    import uvicorn

    from backend.app import create_app
    from backend.runtime import gate_lifespan

    app = create_app(extra_lifespan=[gate_lifespan(gate_port)] if gate_port else None)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="info", lifespan="on"))
    await server.serve()


@main.command("serve")
@click.option("--host", default=None, help="web host (SMZ_HOST, default 127.0.0.1)")
@click.option("--port", default=None, type=int, help="web port (SMZ_PORT, default 8000)")
@click.option("--gate-port", default=None, type=int, help="gate TCP port (SMZ_GATE_PORT, default 9848; 0 = off)")
@click.option("--production", is_flag=True, help="refuse to start without SMZ_SECRET_KEY")
def serve_cmd(host: str | None, port: int | None, gate_port: int | None, production: bool) -> None:
    """Run the web app and the gate TCP server."""
    from backend.settings import get_settings

    s = get_settings()
    if production and not s.secret_key_from_env:
        raise click.ClickException("生产模式必须设置 SMZ_SECRET_KEY / set SMZ_SECRET_KEY in production")
    asyncio.run(migrate())
    asyncio.run(_serve(host or s.host, port or s.port, s.gate_port if gate_port is None else gate_port))


@main.command("demo")
@click.option("--no-serve", is_flag=True, help="load the demo data only")
@click.option("--people", default=200, show_default=True, help="number of people")
def demo_cmd(no_serve: bool, people: int) -> None:
    """Load demo data into an empty database (SQLite by default) and start the product."""
    from backend.settings import get_settings

    s = get_settings()

    async def load() -> list[object] | None:
        await migrate()
        from backend import db
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
    from backend.demo import DEMO_PASSWORD, DemoAccount

    table = Table(title="演示账号 / demo accounts (密码 password: " + DEMO_PASSWORD + ")")
    for col in ("用户名 username", "角色 role", "说明"):
        table.add_column(col)
    rows = made or [
        DemoAccount(u, r, n) for u, r, n in (
            ("admin", "admin", "系统管理员"), ("jianguan", "supervisor", "区住建局监管"),
            ("zongbao", "enterprise", "总包企业"), ("xiangmu", "project_staff", "项目管理人员"),
            ("banzu", "foreman", "劳务员/班组长"), ("gongren", "worker", "工人"), ("changshang", "vendor", "设备厂商"))
    ]
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
    asyncio.run(_serve(s.host, s.port, s.gate_port))


@main.command("create-user")
@click.argument("username")
@click.option("--role", required=True,
              type=click.Choice(["admin", "supervisor", "enterprise", "project_staff", "foreman", "worker", "vendor"]))
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
    from backend import db
    from backend.accounts.services import create_user
    from backend.errors import AppError

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


if __name__ == "__main__":
    main()
