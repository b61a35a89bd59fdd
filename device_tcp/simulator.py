"""A gate-terminal simulator: an asyncio client speaking the seed-001 protocol.

As a library::

    async with SimulatedTerminal("127.0.0.1", 9000, "VENDOR", "SN0001") as t:
        await t.login()
        await t.heartbeat()
        wl = await t.whitelist()
        r = await t.punch(wl.value.records[0].worker_no)

As a program::

    python -m device_tcp.simulator --host 127.0.0.1 --port 9000 --vendor V --serial SN1 --punches 3
    python -m device_tcp.simulator --port 9000 --vendor V --load --terminals 50 --punches 20
"""

from __future__ import annotations

import argparse
import asyncio
import io
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

from device_tcp.frames import (
    CMD_ENROL,
    CMD_HEARTBEAT,
    CMD_LOGIN,
    CMD_PERSON_FEATURES,
    CMD_PUNCH,
    CMD_WHITELIST,
    CONNECTION_CLOSED,
    NEED_DATA,
    ZERO_SESSION,
    Frame,
    FrameDecoder,
    ProtocolError,
    encode_frame,
    encode_frames,
)
from device_tcp.messages import (
    MODE_FACE,
    Enrolment,
    EnrolmentReply,
    LoginRequest,
    PersonFeatures,
    PersonFeaturesRequest,
    Punch,
    Whitelist,
    WhitelistRequest,
    parse_text,
)
from refdata.idcard import id_check_char

__all__ = ["GateReply", "SimulatedTerminal", "main", "make_jpeg", "random_id_number", "run_load"]

T = TypeVar("T")


def make_jpeg(seed: int = 0, size: tuple[int, int] = (240, 320), quality: int = 70) -> bytes:
    """A real JPEG (a face-ish drawing over noise) of roughly 10 KB, made with Pillow."""
    import numpy as np
    from PIL import Image, ImageDraw

    w, h = size
    rng = np.random.default_rng(seed)
    base = np.linspace(60, 200, h, dtype=np.float32)[:, None, None] * np.ones((1, w, 3), np.float32)
    base += rng.normal(0, 6, (h, w, 3)).astype(np.float32)
    img = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")
    d = ImageDraw.Draw(img)
    skin = (int(rng.integers(170, 230)), int(rng.integers(130, 180)), int(rng.integers(100, 150)))
    d.ellipse((w * 0.25, h * 0.2, w * 0.75, h * 0.75), fill=skin)
    for ex in (0.4, 0.6):
        d.ellipse((w * ex - 8, h * 0.4 - 5, w * ex + 8, h * 0.4 + 5), fill=(30, 30, 30))
    d.arc((w * 0.4, h * 0.5, w * 0.6, h * 0.62), 20, 160, fill=(120, 40, 40), width=3)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def random_id_number(rng: random.Random | None = None, birth: str = "19900101") -> str:
    """An 18-character ID number with a valid GB 11643 check character (Jiangmen area code)."""
    rng = rng or random.Random()
    body = "440703" + birth + f"{rng.randrange(1000):03d}"
    return body + id_check_char(body)


@dataclass(slots=True)
class GateReply(Generic[T]):
    """What the server answered: ``ok`` is flag 0; ``message`` the failure text (flag 1);
    ``value`` the parsed content where the command has one."""

    frame: Frame
    ok: bool
    message: str = ""
    value: T | None = None
    latency_s: float = 0.0


class SimulatedTerminal:
    def __init__(
        self,
        host: str,
        port: int,
        vendor_code: str,
        serial: str,
        *,
        version: int = 1,
        timeout_s: float = 10.0,
        part_len: int | None = None,
        local_host: str | None = None,
    ) -> None:
        self.host = host
        self.local_host = local_host  # source address to connect from (e.g. 127.0.0.2: "another address")
        self.port = port
        self.vendor_code = vendor_code
        self.serial = serial
        self.version = version
        self.timeout_s = timeout_s
        self.part_len = part_len  # split requests into parts of this size (multipart upload)
        self.session_id = ZERO_SESSION
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._decoder = FrameDecoder(max_frame_len=16 << 20, max_message_len=64 << 20)
        self._lock = asyncio.Lock()

    # -- connection ------------------------------------------------------------------------
    async def connect(self) -> None:
        self._reader, self._writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port,
                                    local_addr=(self.local_host, 0) if self.local_host else None), self.timeout_s
        )
        self._decoder = FrameDecoder(max_frame_len=16 << 20, max_message_len=64 << 20)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            try:
                await asyncio.wait_for(self._writer.wait_closed(), 2)
            except (OSError, TimeoutError):
                pass
            self._writer = None

    async def __aenter__(self) -> SimulatedTerminal:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- raw I/O ---------------------------------------------------------------------------
    async def send_raw(self, data: bytes) -> None:
        assert self._writer is not None, "not connected"
        self._writer.write(data)
        await self._writer.drain()

    async def read_frame(self, timeout_s: float | None = None) -> Frame | None:
        """The next frame from the server, or None if it closed the connection."""
        assert self._reader is not None, "not connected"
        async with asyncio.timeout(self.timeout_s if timeout_s is None else timeout_s):
            while True:
                event = self._decoder.next_event()
                if isinstance(event, Frame):
                    return event
                if event is CONNECTION_CLOSED:
                    return None
                assert event is NEED_DATA
                try:
                    data = await self._reader.read(65536)
                except ConnectionError:
                    data = b""
                self._decoder.receive_data(data)

    async def request(self, command: int, content: bytes, *, session_id: bytes | None = None) -> Frame:
        """Send one request (split into parts if ``part_len`` is set) and wait for its reply."""
        async with self._lock:
            sid = self.session_id if session_id is None else session_id
            if self.part_len is not None:
                data = b"".join(
                    encode_frames(command, content, max_part_len=self.part_len, session_id=sid, version=self.version)
                )
            else:
                data = encode_frame(command, content, session_id=sid, version=self.version)
            await self.send_raw(data)
            frame = await self.read_frame()
            if frame is None:
                raise ConnectionError("server closed the connection")
            return frame

    async def _call(self, command: int, content: bytes, parse: Callable[[bytes], T] | None) -> GateReply[T]:
        t0 = time.perf_counter()
        frame = await self.request(command, content)
        latency = time.perf_counter() - t0
        if frame.flag != 0:
            return GateReply(frame, ok=False, message=parse_text(frame.content), latency_s=latency)
        value = parse(frame.content) if parse is not None else None
        return GateReply(frame, ok=True, value=value, latency_s=latency)

    # -- commands --------------------------------------------------------------------------
    async def login(self) -> GateReply[None]:
        content = LoginRequest(vendor_code=self.vendor_code, serial=self.serial).build()
        reply: GateReply[None] = await self._call(CMD_LOGIN, content, None)
        if reply.ok:
            self.session_id = reply.frame.session_id
        return reply

    async def heartbeat(self) -> GateReply[None]:
        return await self._call(CMD_HEARTBEAT, b"", None)

    async def whitelist(self, count: int = 0, photo_length_sum: int = 0) -> GateReply[Whitelist]:
        content = WhitelistRequest(count=count, photo_length_sum=photo_length_sum).build()
        return await self._call(CMD_WHITELIST, content, Whitelist.parse)

    async def person_features(self, id_number: str) -> GateReply[PersonFeatures]:
        content = PersonFeaturesRequest(serial=self.serial, id_number=id_number).build()
        return await self._call(CMD_PERSON_FEATURES, content, PersonFeatures.parse)

    async def enrol(self, enrolment: Enrolment | None = None, **fields: object) -> GateReply[EnrolmentReply]:
        """852; without ``enrolment`` a plausible one is made (real JPEGs), ``fields`` override."""
        if enrolment is None:
            values: dict[str, object] = {
                "id_number": random_id_number(),
                "name": "张三",
                "gender": "1",
                "ethnicity": "01",
                "birth_date": "19900101",
                "address": "广东省江门市蓬江区建设路1号",
                "issuing_authority": "江门市公安局蓬江分局",
                "validity": "2020.01.01-2040.01.01",
                "id_photo": make_jpeg(1, (102, 126), 60),
                "face_photo": make_jpeg(2),
            }
            values.update(fields)
            enrolment = Enrolment(**values)  # type: ignore[arg-type]
        t0 = time.perf_counter()
        frame = await self.request(CMD_ENROL, enrolment.build())
        latency = time.perf_counter() - t0
        try:
            value = EnrolmentReply.parse(frame.content)
        except ProtocolError:
            return GateReply(frame, ok=False, message=parse_text(frame.content), latency_s=latency)
        ok = frame.flag == 0 and value.ok
        return GateReply(frame, ok=ok, message=value.reason, value=value, latency_s=latency)

    async def punch(
        self,
        worker_no: int,
        captured_at: datetime | None = None,
        *,
        photo: bytes | None = None,
        mode: int = MODE_FACE,
    ) -> GateReply[None]:
        moment = (captured_at or datetime.now()).replace(microsecond=0)
        content = Punch(
            worker_no=worker_no,
            captured_at=moment,
            mode=mode,
            photo=make_jpeg(worker_no) if photo is None else photo,
        ).build()
        return await self._call(CMD_PUNCH, content, None)


# ------------------------------------------------------------------------------------------
# command line
# ------------------------------------------------------------------------------------------
def _percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


@dataclass(slots=True)
class LoadResult:
    terminals: int
    punches: int
    ok: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    wall_s: float = 0.0

    def summary(self) -> str:
        lat = sorted(self.latencies)
        ms = [x * 1000 for x in lat]
        rate = (self.ok + self.failed) / self.wall_s if self.wall_s else 0.0
        return (
            f"{self.terminals} terminals × {self.punches} punches: ok {self.ok}, failed {self.failed}, "
            f"errors {len(self.errors)}; latency p50 {_percentile(ms, 50):.1f} ms, "
            f"p95 {_percentile(ms, 95):.1f} ms, max {max(ms, default=float('nan')):.1f} ms; "
            f"{rate:.0f} punches/s over {self.wall_s:.2f} s"
        )


async def run_load(
    host: str,
    port: int,
    vendor_code: str,
    *,
    terminals: int,
    punches: int,
    serial_prefix: str = "SIM",
    worker_nos: Sequence[int] | None = None,
) -> LoadResult:
    """N terminals × M punches, concurrently; punch latencies (send → ack) collected."""
    result = LoadResult(terminals, punches)
    photos = [make_jpeg(i) for i in range(8)]

    async def one(i: int) -> None:
        term = SimulatedTerminal(host, port, vendor_code, f"{serial_prefix}{i + 1:04d}")
        try:
            await term.connect()
            login = await term.login()
            if not login.ok:
                result.errors.append(f"{term.serial}: login refused: {login.message}")
                return
            workers = list(worker_nos or [0])
            if worker_nos is None:
                wl = await term.whitelist()
                if wl.ok and wl.value is not None and wl.value.records:
                    workers = [r.worker_no for r in wl.value.records]
            for k in range(punches):
                r = await term.punch(workers[k % len(workers)], photo=photos[(i + k) % len(photos)])
                result.latencies.append(r.latency_s)
                if r.ok:
                    result.ok += 1
                else:
                    result.failed += 1
        except (OSError, TimeoutError, ProtocolError) as exc:
            result.errors.append(f"{term.serial}: {exc!r}")
        finally:
            await term.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(terminals)))
    result.wall_s = time.perf_counter() - t0
    return result


async def _run_one(args: argparse.Namespace) -> int:
    say = print
    async with SimulatedTerminal(args.host, args.port, args.vendor, args.serial) as term:
        login = await term.login()
        say(f"login {args.serial}: {'ok, session ' + term.session_id.hex() if login.ok else login.message}")
        if not login.ok:
            return 1
        hb = await term.heartbeat()
        say(f"heartbeat: {'ok' if hb.ok else hb.message} ({hb.latency_s * 1000:.1f} ms)")
        worker_nos: list[int] = []
        if args.enrol:
            r = await term.enrol()
            say(f"enrol: {'ok' if r.ok else 'refused: ' + r.message}")
        wl = await term.whitelist()
        if wl.ok and wl.value is not None:
            wlv = wl.value
            say(f"whitelist: project {wlv.project_no} {wlv.project_name!r}, {len(wlv.records)} workers")
            for rec in wl.value.records[:10]:
                say(f"  {rec.worker_no:>6} {rec.name} {rec.id_number[:6]}********{rec.id_number[-4:]}")
            worker_nos = [rec.worker_no for rec in wl.value.records]
        else:
            say(f"whitelist: {wl.message}")
        if args.worker_no is not None:
            worker_nos = [args.worker_no]
        if not worker_nos and args.punches:
            say("no worker to punch for (empty whitelist; use --worker-no)")
            return 1
        for k in range(args.punches):
            worker = worker_nos[k % len(worker_nos)]
            r = await term.punch(worker)
            say(f"punch worker {worker}: {'recorded' if r.ok else r.message} ({r.latency_s * 1000:.1f} ms)")
    return 0


async def _amain(args: argparse.Namespace) -> int:
    if args.load:
        res = await run_load(
            args.host,
            args.port,
            args.vendor,
            terminals=args.terminals,
            punches=args.punches,
            serial_prefix=args.serial,
            worker_nos=[args.worker_no] if args.worker_no is not None else None,
        )
        print(res.summary())
        for err in res.errors[:10]:
            print("  " + err)
        return 0 if not res.errors and not res.failed else 1
    return await _run_one(args)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m device_tcp.simulator", description="gate terminal simulator")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--vendor", required=True, help="32-character vendor code (厂家识别码)")
    p.add_argument("--serial", default="SIM", help="device serial; in --load mode the prefix")
    p.add_argument("--punches", type=int, default=1, help="punches (per terminal in --load mode)")
    p.add_argument("--worker-no", type=int, default=None, help="punch for this worker number")
    p.add_argument("--enrol", action="store_true", help="enrol a made-up worker first (852)")
    p.add_argument("--load", action="store_true", help="benchmark: many terminals at once")
    p.add_argument("--terminals", type=int, default=10)
    args = p.parse_args(argv)
    try:
        return asyncio.run(_amain(args))
    except (OSError, TimeoutError, ProtocolError) as exc:
        print(f"error: {exc!r}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
