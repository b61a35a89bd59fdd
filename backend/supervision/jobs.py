"""The supervision jobs behind ``smz rollup``, ``smz warnings`` and ``smz nightly`` (progress shown)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime, timedelta
from typing import TypeVar

import click
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from backend import db
from backend.errors import AppError
from backend.supervision import services as sup

T = TypeVar("T")
log = logging.getLogger("smz.jobs")


def run_job(factory: Callable[[], Awaitable[T]]) -> T:
    """Migrate, open the pool, run, close; AppErrors become CLI errors (bilingual)."""
    async def run() -> T:
        await db.migrate()
        await db.start_pool()
        try:
            return await factory()
        finally:
            await db.close_pool()

    try:
        return asyncio.run(run())
    except (AppError, db.MigrationFailed) as exc:
        raise click.ClickException(str(exc)) from exc


def _as_date(value: object) -> date:
    return value.date() if isinstance(value, datetime) else value  # type: ignore[return-value]


def cli_rollup(console: Console, days: tuple[object, ...], month: str | None) -> sup.RollupResult:
    async def job() -> sup.RollupResult:
        with Progress(console=console) as progress:
            task = progress.add_task("统计考勤日汇总", total=None)

            def step(label: str, n: int) -> None:
                progress.update(task, advance=n, description=f"统计考勤日汇总：{label}")

            if days:
                wanted = [_as_date(d) for d in days]
                progress.update(task, total=len(wanted))
                return await sup.rollup_days(wanted, progress=step)
            if month:
                first, last = sup.parse_month(month)
                progress.update(task, total=max(0, (min(last + timedelta(days=1), sup.local_today()) - first).days))
                return await sup.rollup_month(month, progress=step)
            pending = await sup.days_to_roll(sup.local_today())
            progress.update(task, total=len(pending))
            return await sup.nightly_rollup(trigger="cli", progress=step)

    result = run_job(job)
    console.print(f"[green]已汇总 {result.days} 天，{result.rows} 条人员日记录，用时 {result.seconds:.2f} 秒 / "
                  f"rolled up {result.days} days, {result.rows} person-days[/green]")
    return result


def print_evaluation(console: Console, summary: sup.EvaluationSummary) -> None:
    table = Table(title=f"预警检测 {summary.today}（数据截至 {summary.as_of}）")
    for col in ("项目数", "发现问题", "新预警", "转红灯", "已整改", "重新打开"):
        table.add_column(col)
    table.add_row(str(summary.projects), str(summary.findings), str(len(summary.opened)),
                  str(len(summary.escalated)), str(len(summary.rectified)), str(len(summary.reopened)))
    console.print(table)
    for n in summary.notifications:
        console.print(f"预警 {n['warning_id']}：站内消息 {n['in_site']} 人，短信 成功 {n['sms_sent']} / 失败 "
                      f"{n['sms_failed']} / 无号码 {n['sms_skipped']}")


def cli_warnings(console: Console, today: object, district: int | None, notify: bool) -> sup.EvaluationSummary:
    async def job() -> sup.EvaluationSummary:
        ids = await sup.project_ids_in_district(district) if district is not None else None
        with console.status("正在检测预警…"):
            return await sup.evaluate_warnings(_as_date(today) if today else None, ids, notify=notify)

    summary = run_job(job)
    print_evaluation(console, summary)
    return summary


# A later nightly step: (what the console shows while it runs, the job; it returns the line to print).  The
# command line passes the steps of the layers above supervision (wages reconciliation, device upkeep, retention).
NightlyStep = tuple[str, Callable[[], Awaitable[str]]]


def cli_nightly(console: Console, loop: bool, at: str, after: Sequence[NightlyStep] = ()) -> None:
    try:
        hour, minute = (int(x) for x in at.split(":"))
        datetime.now().replace(hour=hour, minute=minute)
    except ValueError as exc:
        raise click.BadParameter("应为 HH:MM / expected HH:MM", param_hint="--at") from exc

    async def job() -> sup.EvaluationSummary:
        with console.status("正在统计考勤日汇总…"):
            rolled = await sup.nightly_rollup(trigger="nightly")
        console.print(f"已汇总 {rolled.days} 天（{'、'.join(rolled.day_list) or '无'}），{rolled.rows} 条人员日记录")
        with console.status("正在检测预警…"):
            summary = await sup.evaluate_warnings()
        print_evaluation(console, summary)
        for label, step in after:  # each after the warnings: a failing one is reported, the others still run
            with console.status(label):
                try:
                    console.print(await step())
                except Exception as exc:  # a nightly step must not stop the next one
                    log.exception("nightly step failed: %s", label)
                    console.print(f"[red]{label} 失败 / failed: {exc}[/red]")
        return summary

    while True:
        run_job(job)
        if not loop:
            return
        now = datetime.now()
        nxt = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
        if nxt <= now:
            nxt += timedelta(days=1)
        console.print(f"下次运行 / next run: {nxt:%Y-%m-%d %H:%M}")
        time.sleep((nxt - now).total_seconds())
