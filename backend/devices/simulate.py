"""``smz simulate-gate``: gate terminals simulated over the real protocol (device_tcp.simulator), for
demos and load tests.  Every reply is printed in Chinese; long runs show a progress bar.

One terminal: login (843), heartbeat (65535), optional enrolment of a real face photo (852) and a
look-up of that person (845), the whitelist (849), then punches (848) with real JPEG photos.
Several terminals (``terminals > 1``): each logs in, fetches its whitelist and punches concurrently;
the summary gives punches/s and acknowledgement latency percentiles.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from backend.validators import mask_id
from device_tcp.frames import ProtocolError
from device_tcp.messages import ETHNICITY, PUNCH_PHOTO_MAX
from device_tcp.messages import Enrolment as EnrolmentMsg
from device_tcp.simulator import GateReply, SimulatedTerminal, make_jpeg, random_id_number


@dataclass
class SimOptions:
    host: str = "127.0.0.1"
    port: int = 9848
    vendor: str = ""  # the vendor code (厂家识别码): a credential, never printed
    serial: str = "DEMO-GATE-01-IN"
    terminals: int = 1
    punches: int = 3
    worker_nos: Sequence[int] = ()
    late_s: float = 0.0  # capture time this many seconds before now (a re-upload after an outage)
    tz: str = "Asia/Shanghai"  # the terminal's wall clock: the project's time zone
    photo: Path | None = None  # punch photo (JPEG); default: generated JPEGs
    enrol_photo: Path | None = None  # a real face photo: enrol a person (852) first
    enrol_id: str | None = None
    enrol_name: str = "张三"
    interval_s: float = 0.0  # pause between punches of one terminal
    timeout_s: float = 30.0


@dataclass
class SimResult:
    ok: int = 0
    refused: int = 0
    errors: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    wall_s: float = 0.0
    messages: dict[str, int] = field(default_factory=dict)

    def add(self, reply: GateReply[None]) -> None:
        self.latencies.append(reply.latency_s)
        if reply.ok:
            self.ok += 1
        else:
            self.refused += 1
            self.messages[reply.message] = self.messages.get(reply.message, 0) + 1


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[max(0, min(98, round(q) - 1))]


def latency_text(latencies: Sequence[float]) -> str:
    ms = [x * 1000 for x in latencies]
    if not ms:
        return "无"
    return (f"p50 {percentile(ms, 50):.1f} ms，p95 {percentile(ms, 95):.1f} ms，p99 {percentile(ms, 99):.1f} ms，"
            f"最大 {max(ms):.1f} ms")


def terminal_photo(path: Path, max_bytes: int = PUNCH_PHOTO_MAX) -> bytes:
    """A photo as a terminal sends it: upright, at most 640 px on its long side, JPEG ≤ ``max_bytes``."""
    from PIL import Image, ImageOps

    with Image.open(path) as src:
        img = ImageOps.exif_transpose(src).convert("RGB")
    scale = min(1.0, 640 / max(img.size))
    if scale < 1:
        img = img.resize((round(img.width * scale), round(img.height * scale)), Image.Resampling.LANCZOS)
    for quality in (90, 80, 70, 60, 50, 40):
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=quality)
        if buf.tell() <= max_bytes:
            return buf.getvalue()
    raise ValueError(f"{path}: cannot fit the photo into {max_bytes // 1024} KB")


def _now(tz: str, late_s: float) -> datetime:
    return (datetime.now(ZoneInfo(tz)) - timedelta(seconds=late_s)).replace(tzinfo=None, microsecond=0)


def _verdict(r: GateReply[None]) -> str:
    return "已记录（flag 0）" if r.ok else f"被拒绝：{r.message}"


async def run_one(opts: SimOptions, console: Console) -> int:
    """One terminal, step by step.  Returns the exit code (0: everything accepted)."""
    say = console.print
    t = SimulatedTerminal(opts.host, opts.port, opts.vendor, opts.serial, timeout_s=opts.timeout_s)
    say(f"连接闸机服务 {opts.host}:{opts.port}，设备 {opts.serial}")
    await t.connect()
    try:
        r = await t.login()
        if not r.ok:
            say(f"[red]登录（843）被拒绝：{r.message}[/red]")
            return 1
        say(f"[green]登录（843）成功[/green]，会话标识 {t.session_id.hex()}（{r.latency_s * 1000:.1f} ms）")
        hb = await t.heartbeat()
        say(f"心跳（65535）：{'正常' if hb.ok else '被拒绝：' + hb.message}（{hb.latency_s * 1000:.1f} ms）")
        enrolled = await _enrol(t, opts, say) if opts.enrol_photo is not None else None
        listed = await _whitelist(t, say)
        workers = list(opts.worker_nos) or listed
        if enrolled is not None:
            await _show_person(t, enrolled, say)
        if opts.punches <= 0:
            return 0
        if not workers:
            say("[yellow]没有可打卡的工号：白名单为空（项目人员尚未采集人脸），可用 --worker-no 指定工号[/yellow]")
            return 1
        result = await _punch_all(t, opts, workers, console)
        say(f"共上传 {opts.punches} 次：已记录 {result.ok} 次，被拒绝 {result.refused} 次；应答延迟 {latency_text(result.latencies)}")
        return 0 if result.refused == 0 else 1
    finally:
        await t.close()


async def _enrol(t: SimulatedTerminal, opts: SimOptions, say: Callable[..., None]) -> str | None:
    """Enrol a person with a real face photo (852).  Returns their ID number when the server accepted it."""
    assert opts.enrol_photo is not None
    number = (opts.enrol_id or random_id_number(birth="19900101")).upper()
    msg = EnrolmentMsg(
        id_number=number, name=opts.enrol_name, gender="1" if int(number[16]) % 2 else "0", ethnicity="01",
        birth_date=number[6:14], address="广东省江门市蓬江区建设路1号", issuing_authority="江门市公安局蓬江分局",
        validity=f"{date.today().year - 1}.01.01-{date.today().year + 19}.01.01",
        id_photo=make_jpeg(1, (102, 126), 60), face_photo=terminal_photo(opts.enrol_photo),
    )
    say(f"上传采集信息（852）：{opts.enrol_name} {mask_id(number)}，采集照片 {len(msg.face_photo) // 1024} KB …")
    er = await t.enrol(msg)
    if not er.ok:
        say(f"[red]采集被拒绝：{er.message}[/red]")
        return None
    say(f"[green]采集成功[/green]（{er.latency_s * 1000:.0f} ms，含人脸特征计算）")
    return number


async def _whitelist(t: SimulatedTerminal, say: Callable[..., None]) -> list[int]:
    """Fetch and show the whitelist (849).  Returns its worker numbers (none when refused)."""
    wl = await t.whitelist()
    if not wl.ok or wl.value is None:
        say(f"[red]白名单（849）被拒绝：{wl.message}[/red]")
        return []
    v = wl.value
    total_kb = v.photo_length_sum // 1024
    say(f"白名单（849）：项目 {v.project_no}「{v.project_name}」，{len(v.records)} 人，照片共 {total_kb} KB"
        f"（{wl.latency_s * 1000:.1f} ms）")
    for rec in v.records[:10]:
        say(f"  工号 {rec.worker_no:>7}  {rec.name:<6}  {mask_id(rec.id_number)}  照片 {rec.photo_length} 字节")
    if len(v.records) > 10:
        say(f"  …… 另有 {len(v.records) - 10} 人")
    return [rec.worker_no for rec in v.records]


async def _show_person(t: SimulatedTerminal, id_number: str, say: Callable[..., None]) -> None:
    """Look the enrolled person up (845) and show what the terminal gets."""
    pf = await t.person_features(id_number)
    if not pf.ok or pf.value is None:
        say(f"人员特征（845）：{pf.message}")
        return
    p = pf.value
    say(f"人员特征（845）：工号 {p.worker_no} {p.name}，{ETHNICITY.get(p.ethnicity, p.ethnicity)}，"
        f"{'男' if p.gender == '1' else '女'}，采集照片 {len(p.face_photo)} 字节，身份证照片 {len(p.id_photo)} 字节")


async def _punch_all(t: SimulatedTerminal, opts: SimOptions, workers: list[int], console: Console) -> SimResult:
    """``opts.punches`` punches (848), cycling through ``workers``, with a progress bar."""
    result = SimResult()
    own_photo = terminal_photo(opts.photo) if opts.photo is not None else None
    cycle = itertools.cycle(workers)
    with _progress(console) as progress:
        task = progress.add_task("上传考勤（848）", total=opts.punches)
        for k in range(opts.punches):
            worker = next(cycle)
            at = _now(opts.tz, opts.late_s)
            r = await t.punch(worker, at, photo=own_photo or make_jpeg(worker + k))
            result.add(r)
            progress.console.print(f"打卡 工号 {worker}，刷卡时间 {at:%Y-%m-%d %H:%M:%S}：{_verdict(r)}"
                                   f"（{r.latency_s * 1000:.1f} ms）")
            progress.advance(task)
            if opts.interval_s:
                await asyncio.sleep(opts.interval_s)
    return result


def _progress(console: Console) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=False)


async def run_many(opts: SimOptions, console: Console,
                   on_punch: Callable[[GateReply[None]], None] | None = None) -> SimResult:
    """``opts.terminals`` terminals (serials ``<serial>0001`` …) punching concurrently."""
    result = SimResult()
    photos = [make_jpeg(i) for i in range(8)]
    total = opts.terminals * opts.punches

    with _progress(console) as progress:
        task = progress.add_task(f"{opts.terminals} 台设备上传考勤", total=total)

        async def one(i: int) -> None:
            serial = f"{opts.serial}{i + 1:04d}"
            t = SimulatedTerminal(opts.host, opts.port, opts.vendor, serial, timeout_s=opts.timeout_s)
            try:
                await t.connect()
                login = await t.login()
                if not login.ok:
                    result.errors.append(f"{serial} 登录被拒绝：{login.message}")
                    progress.advance(task, opts.punches)
                    return
                workers = list(opts.worker_nos)
                if not workers:
                    wl = await t.whitelist()
                    workers = [r.worker_no for r in wl.value.records] if wl.ok and wl.value else []
                if not workers:
                    result.errors.append(f"{serial} 白名单为空")
                    progress.advance(task, opts.punches)
                    return
                for k in range(opts.punches):
                    worker = workers[(i + k) % len(workers)]
                    # the terminal's clock now: the same worker twice within a second on one terminal is
                    # the same punch (acknowledged again, stored once) — as with a real terminal
                    at = _now(opts.tz, opts.late_s)
                    r = await t.punch(worker, at, photo=photos[(i + k) % len(photos)])
                    result.add(r)
                    if on_punch is not None:
                        on_punch(r)
                    progress.advance(task)
                    if opts.interval_s:
                        await asyncio.sleep(opts.interval_s)
            except (OSError, TimeoutError, ProtocolError, ConnectionError) as exc:
                result.errors.append(f"{serial}: {exc!r}")
            finally:
                await t.close()

        t0 = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(opts.terminals)))
        result.wall_s = time.perf_counter() - t0
    return result


def summary_zh(opts: SimOptions, r: SimResult) -> str:
    n = r.ok + r.refused
    rate = n / r.wall_s if r.wall_s else 0.0
    lines = [
        f"{opts.terminals} 台设备 × {opts.punches} 次：已记录 {r.ok}，被拒绝 {r.refused}，连接错误 {len(r.errors)}；"
        f"用时 {r.wall_s:.2f} 秒，{rate:.0f} 次/秒",
        f"应答延迟：{latency_text(r.latencies)}",
    ]
    lines += [f"  拒绝原因「{m}」：{c} 次" for m, c in sorted(r.messages.items(), key=lambda x: -x[1])[:5]]
    lines += [f"  {e}" for e in r.errors[:10]]
    return "\n".join(lines)
