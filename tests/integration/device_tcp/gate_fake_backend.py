"""An in-memory GateBackend for the gate-server tests."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime

from device_tcp.backend import GateRefused
from device_tcp.messages import Enrolment, PersonFeatures, Punch, Whitelist, WhitelistRecord

VENDOR = "JM-VENDOR-0001"


@dataclass
class Worker:
    worker_no: int
    name: str
    id_number: str
    photo: bytes = b"\xff\xd8\xff\xe0fake"


@dataclass
class FakeBackend:
    vendors: set[str] = field(default_factory=lambda: {VENDOR})
    serials: set[str] = field(default_factory=lambda: {f"SN{i:04d}" for i in range(1, 50)})
    workers: dict[int, Worker] = field(
        default_factory=lambda: {
            1: Worker(1, "张三", "44070319900101123X"),
            2: Worker(2, "欧阳娜娜", "440703199202021234"),
        }
    )
    punches: list[tuple[str, Punch, datetime]] = field(default_factory=list)
    enrolments: list[tuple[str, Enrolment]] = field(default_factory=list)
    logins: list[tuple[str, str, str]] = field(default_factory=list)
    heartbeats: list[str] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    # a test holds punches here until it sets the event
    punch_gate: asyncio.Event | None = None
    punch_started: asyncio.Event = field(default_factory=asyncio.Event)
    fail_next: Exception | None = None
    delay_s: float = 0.0

    def _maybe_fail(self) -> None:
        if self.fail_next is not None:
            exc, self.fail_next = self.fail_next, None
            raise exc

    async def login(self, vendor_code: str, serial: str, peer: str) -> None:
        self._maybe_fail()
        if vendor_code not in self.vendors:
            raise GateRefused("厂家识别码无效")
        if serial not in self.serials:
            raise GateRefused("设备未注册")
        self.logins.append((vendor_code, serial, peer))

    async def heartbeat(self, serial: str) -> None:
        self._maybe_fail()
        self.heartbeats.append(serial)

    async def whitelist(self, serial: str) -> Whitelist:
        self._maybe_fail()
        return Whitelist(
            project_no=88,
            project_name="江门市示范工程",
            records=tuple(
                WhitelistRecord(worker_no=w.worker_no, name=w.name, id_number=w.id_number, photo_length=len(w.photo))
                for w in self.workers.values()
            ),
        )

    async def person_features(self, serial: str, id_number: str) -> PersonFeatures:
        self._maybe_fail()
        for w in self.workers.values():
            if w.id_number == id_number:
                return PersonFeatures(
                    worker_no=w.worker_no,
                    name=w.name,
                    id_number=w.id_number,
                    ethnicity="01",
                    gender="1",
                    address="广东省江门市",
                    birth_date=id_number[6:14],
                    issuing_authority="江门市公安局",
                    validity="2020.01.01-2040.01.01",
                    face_photo=w.photo,
                    id_photo=w.photo,
                )
        raise GateRefused("人员不存在")

    async def enrol(self, serial: str, enrolment: Enrolment) -> None:
        self._maybe_fail()
        if any(e.id_number == enrolment.id_number for _, e in self.enrolments):
            raise GateRefused("该人员已采集")
        self.enrolments.append((serial, enrolment))
        no = max(self.workers, default=0) + 1
        self.workers[no] = Worker(no, enrolment.name, enrolment.id_number, enrolment.face_photo)

    async def punch(self, serial: str, punch: Punch, received_at: datetime) -> None:
        self._maybe_fail()
        self.punch_started.set()
        if self.punch_gate is not None:
            await self.punch_gate.wait()
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if punch.worker_no not in self.workers:
            raise GateRefused("不在白名单")
        self.punches.append((serial, punch, received_at))

    async def connection_closed(self, serial: str) -> None:
        self.closed.append(serial)
