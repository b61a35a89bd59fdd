"""A local stand-in for the provincial/national worker platform (seed 003 数据接口标准), as a real aiohttp server.

It speaks the interface as ``backend.platform.client`` does: one POST endpoint with signed form fields.
It checks what the real platform checks — appid, signature, a ±5 min timestamp window, nonce replay, required
fields, ID check digits, dependency order (a team needs its unit, a worker its team, an entry its worker,
attendance an entry), duplicate Adds — answers ``{code, message, data: {requestSerialCode}}`` and finishes each
accepted write ``delay`` seconds later (AsyncHandleResult.Query: 10 处理中 → 20 成功 / 30 失败).

It misbehaves on demand, by constructor arguments or ``POST /__sim/mode`` (JSON):
``rate_limit`` (calls/s per appid, then -5 访问超过限制); ``mode`` = normal | fail (every write fails asynchronously) | timeout (does the work, answers after ``hang_s``)
| drop (does the work, closes the connection without answering) | 5xx | html | garbage | down (stops
listening); ``fail_rate``, ``drop_rate``, ``error_rate`` (5xx) are per-request probabilities on top.
``GET /__sim/stats`` and ``SimulatorHandle.stats`` count every entity's creations by natural key, so a test
can check "exactly once".  ``smz platform-sim`` runs it from the command line.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from backend.platform import adapter, signing
from backend.platform.adapter import CORP_TYPE, ENTRY_TYPE, EXIT_TYPE, METHODS, QUERY_METHODS
from backend.platform.wire import WireRequest
from backend.validators import mask_id
from refdata.idcard import id_check_char

log = logging.getLogger(__name__)

MODES = frozenset({"normal", "fail", "timeout", "drop", "5xx", "html", "garbage", "down"})
NONCE_TTL_S = 15 * 60  # nonces are remembered longer than the timestamp window, so a replay is always seen
NONCE_MAX = 200_000

# Answer codes (seed 003 interface standard: 0 成功, -1 请求参数错误, -2 签名校验错误, -3 无API访问权限,
# -5 访问超过限制) and the business codes this simulator uses for refused data.
OK, BAD_PARAM, BAD_SIGN, NO_ACCESS, TOO_MANY = 0, -1, -2, -3, -5
DATA_INVALID, DUPLICATE, PARENT_MISSING, NOT_FOUND = 1001, 1002, 1003, 1004


@dataclass
class SimulatorStats:
    """What the simulator saw.  ``created[key]`` = how many times the entity with that natural key was created."""

    created: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    by_method: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    accepted: int = 0
    rejected: int = 0
    duplicate_adds: int = 0
    out_of_order: int = 0
    bad_signature: int = 0
    stale_timestamp: int = 0
    replayed_nonce: int = 0
    dropped: int = 0
    errors_5xx: int = 0
    html: int = 0
    timeouts: int = 0
    failed_async: int = 0
    rate_limited: int = 0

    def count(self, kind: str) -> int:
        """How many distinct entities of ``kind`` exist (were created)."""
        return sum(1 for k in self.created if k.startswith(kind + "|"))

    def duplicates(self) -> dict[str, int]:
        """Entities created more than once (should be empty)."""
        return {k: n for k, n in self.created.items() if n > 1}

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": dict(self.created), "updated": dict(self.updated), "by_method": dict(self.by_method),
            **{k: getattr(self, k) for k in (
                "requests", "accepted", "rejected", "duplicate_adds", "out_of_order", "bad_signature",
                "stale_timestamp", "replayed_nonce", "dropped", "errors_5xx", "html", "timeouts", "failed_async",
                "rate_limited")},
        }


@dataclass
class _Record:
    kind: str
    key: str
    data: dict[str, Any]
    serial: str
    done_at: float
    fails: bool
    platform_id: str


@dataclass
class SimConfig:
    appid: str = "sim-appid"
    appsecret: str = "sim-appsecret"
    apps: dict[str, str] = field(default_factory=dict)  # more appid → appsecret pairs (one per district)
    delay: float = 2.0
    fail_rate: float = 0.0
    drop_rate: float = 0.0
    error_rate: float = 0.0
    mode: str = "normal"
    hang_s: float = 30.0
    window_s: float = 300.0
    rate_limit: float = 0.0  # calls per second per appid answered before -5 访问超过限制 (0 = no limit)
    seed: int | None = None


class PlatformSimulator:
    """The simulator's state and request handling (no globals: one instance per server)."""

    def __init__(self, config: SimConfig, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.stats = SimulatorStats()
        self.clock = clock
        self.rng = random.Random(config.seed)
        self.records: dict[str, _Record] = {}  # natural key → record (the platform's "database")
        self.serials: dict[str, _Record | str] = {}  # serial → record, or the failure reason after it failed
        self.nonces: dict[str, float] = {}
        self.calls: dict[str, deque[float]] = {}  # appid → times of the calls in the last second (rate limit)
        self.entries: dict[str, list[_Record]] = {}  # "projectCode|person" → worker_entry records (order checks)
        self._seq = 0
        self.on_mode: Callable[[float], Any] | None = None
        self.stopping = asyncio.Event()

    # --- secrets ---
    def secret_of(self, appid: str) -> str | None:
        if appid == self.config.appid:
            return self.config.appsecret
        return self.config.apps.get(appid)

    # --- modes ---
    def set_mode(self, mode: str | None = None, **rates: float) -> None:
        if mode is not None:
            if mode not in MODES:
                raise ValueError(f"unknown mode {mode!r}; one of {sorted(MODES)}")
            self.config.mode = mode
        for name, value in rates.items():
            if name not in ("fail_rate", "drop_rate", "error_rate", "delay", "hang_s", "rate_limit"):
                raise ValueError(f"unknown setting {name!r}")
            setattr(self.config, name, float(value))

    # --- the platform endpoint ---
    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.stats.requests += 1
        mode = self.config.mode
        if mode == "5xx" or self.rng.random() < self.config.error_rate:
            self.stats.errors_5xx += 1
            return web.Response(status=503, text="Service Unavailable")
        if mode == "html":
            self.stats.html += 1
            return web.Response(status=200, content_type="text/html",
                                text="<html><head><title>系统维护</title></head><body>系统维护中，请稍后再试</body></html>")
        if mode == "garbage":
            return web.Response(status=200, content_type="application/octet-stream", body=b"\x00\x17garbage{")
        form = await request.post()
        answer = self.process({k: str(v) for k, v in form.items()})
        if mode == "drop" or self.rng.random() < self.config.drop_rate:
            self.stats.dropped += 1
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError  # aiohttp ends the handler; nothing is written
        if mode == "timeout":
            self.stats.timeouts += 1
            try:  # hang, but let stop() end it
                await asyncio.wait_for(self.stopping.wait(), self.config.hang_s)
            except TimeoutError:
                pass
        return web.json_response(answer, dumps=lambda o: json.dumps(o, ensure_ascii=False))

    def process(self, form: Mapping[str, str]) -> dict[str, Any]:
        """Check one call and do it; returns the JSON envelope."""
        missing = [f for f in ("appid", "method", "format", "version", "timestamp", "nonce", "data", "sign")
                   if not form.get(f)]
        if missing:
            return _answer(BAD_PARAM, f"请求参数错误：缺少 {','.join(missing)}")
        secret = self.secret_of(form["appid"])
        if secret is None:
            return _answer(NO_ACCESS, "无API访问权限：appid 不存在")
        if self.config.rate_limit and not self._within_rate(form["appid"]):
            self.stats.rate_limited += 1
            return _answer(TOO_MANY, f"访问超过限制（每秒 {self.config.rate_limit:g} 次）")
        if not signing.verify(dict(form), secret):
            self.stats.bad_signature += 1
            return _answer(BAD_SIGN, "签名校验错误")
        if not signing.within_window(form["timestamp"], datetime.now(signing.CHINA_TZ),
                                     timedelta(seconds=self.config.window_s)):
            self.stats.stale_timestamp += 1
            return _answer(BAD_SIGN, "签名校验错误：timestamp 超出有效时间范围（±5 分钟）")
        if not self._fresh_nonce(form["appid"], form["nonce"]):
            self.stats.replayed_nonce += 1
            return _answer(BAD_SIGN, "签名校验错误：nonce 已使用（重复请求）")
        try:
            data = json.loads(form["data"])
        except json.JSONDecodeError:
            return _answer(BAD_PARAM, "请求参数错误：data 不是有效的 JSON")
        if not isinstance(data, dict):
            return _answer(BAD_PARAM, "请求参数错误：data 必须是 JSON 对象")
        method = form["method"]
        self.stats.by_method[method] += 1
        if method == adapter.ASYNC_RESULT_METHOD:
            return self._async_result(str(data.get("requestSerialCode") or ""))
        if method in QUERY_METHODS.values():
            return self._query(method, data)
        kind = adapter.kind_of_method(method, data)
        if kind is None:
            return _answer(BAD_PARAM, f"请求参数错误：不支持的方法 {method}")
        answer = self._write(kind, method, data)
        if answer["code"] == OK:
            self.stats.accepted += 1
        else:
            self.stats.rejected += 1
        return answer

    def _within_rate(self, appid: str) -> bool:
        now = self.clock()
        window = self.calls.setdefault(appid, deque())
        while window and now - window[0] >= 1.0:
            window.popleft()
        if len(window) >= self.config.rate_limit:
            return False
        window.append(now)
        return True

    def _fresh_nonce(self, appid: str, nonce: str) -> bool:
        now = self.clock()
        if len(self.nonces) > NONCE_MAX:
            self.nonces = {k: t for k, t in self.nonces.items() if now - t < NONCE_TTL_S}
        key = f"{appid}\x00{nonce}"
        seen = self.nonces.get(key)
        if seen is not None and now - seen < NONCE_TTL_S:
            return False
        self.nonces[key] = now
        return True

    # --- writes ---
    def _write(self, kind: str, method: str, data: dict[str, Any]) -> dict[str, Any]:
        problem = validate(kind, method, data)
        if problem:
            return _answer(DATA_INVALID, f"数据校验失败：{problem}")
        key = entity_key(kind, data)
        parent = self._parent_problem(kind, data)
        if parent:
            self.stats.out_of_order += 1
            return _answer(PARENT_MISSING, parent)
        existing = self.records.get(key)
        if existing is not None:
            self._settle(existing)  # an Add that has failed by now is gone, whether or not anyone asked
            existing = self.records.get(key)
        is_add = method == METHODS[kind][0]
        if is_add and existing is not None:
            self.stats.duplicate_adds += 1
            return _answer(DUPLICATE, f"{adapter.KIND_ZH[kind]}已存在，请勿重复添加（如需修改请调用 {METHODS[kind][1] or '无'}）")
        if not is_add and existing is None:
            return _answer(NOT_FOUND, f"{adapter.KIND_ZH[kind]}不存在，请先调用 {METHODS[kind][0]}")
        self._seq += 1
        serial = f"{kind.replace('_', '')}-{'add' if is_add else 'update'}-{self._seq:08d}"
        fails = self.config.mode == "fail" or self.rng.random() < self.config.fail_rate
        done_at = self.clock() + self.config.delay
        if is_add:
            record = _Record(kind, key, data, serial, done_at, fails, platform_id=f"{kind[:2].upper()}{self._seq:08d}")
            self.records[key] = record
            if kind == "worker_entry":
                self.entries.setdefault(f"{data.get('projectCode')}|{_hid(_id_of(kind, data))}", []).append(record)
            if not fails:
                self.stats.created[key] += 1
        else:
            assert existing is not None
            record = _Record(kind, key, data, serial, done_at, fails, existing.platform_id)
            if not fails:
                existing.data = data
                self.stats.updated[key] += 1
        self.serials[serial] = record
        return _answer(OK, "成功", {"requestSerialCode": serial})

    def _settle(self, record: _Record) -> str:
        """'10' while processing, then '20' or '30' (a failed Add is removed from the platform's records)."""
        if self.clock() < record.done_at:
            return adapter.ASYNC_STATUS_PROCESSING_CODE
        if record.fails:
            if self.records.get(record.key) is record:
                del self.records[record.key]
                self.stats.failed_async += 1
            return adapter.ASYNC_STATUS_FAILURE
        return adapter.ASYNC_STATUS_SUCCESS

    def _done(self, key: str) -> bool:
        record = self.records.get(key)
        return record is not None and self._settle(record) == adapter.ASYNC_STATUS_SUCCESS

    def _parent_problem(self, kind: str, data: dict[str, Any]) -> str | None:
        code = data.get("projectCode")
        if kind == "project":
            return None
        if kind != "project" and not self._done(f"project|{code}"):
            return f"项目 {code} 不存在或尚未处理完成，请先上传项目"
        if kind == "project_unit":
            return None
        if kind in ("team", "worker", "payroll", "worker_entry", "worker_exit", "attendance", "contract"):
            corp = data.get("corpCode") or _first(data, "contractList").get("corpCode")
            if corp and not self._done(f"project_unit|{code}|{corp}"):
                return f"参建单位 {corp} 未上传成功，请先上传参建单位"
        if kind == "team":
            return None
        if kind in ("worker", "worker_entry", "worker_exit", "attendance") and data.get("teamName"):
            team = f"team|{code}|{data.get('corpCode')}|{data.get('teamName')}"
            if not self._done(team):
                return f"班组 {data.get('teamName')} 未上传成功，请先上传班组"
        if kind == "worker":
            return None
        if kind == "payroll":
            for line in data.get("detailList") or []:
                person = str(line.get("idCardNumber") or "").upper()
                if not self._done(f"worker|{code}|{_hid(person)}"):
                    return f"人员 {mask_id(person)} 未在该项目登记，请先上传项目人员"
            return None
        person = _id_of(kind, data)
        worker = f"worker|{code}|{_hid(person)}"
        if not self._done(worker):
            return f"人员 {mask_id(person)} 未在该项目登记，请先上传项目人员"
        if kind == "worker_exit" or kind == "attendance":
            entries = self.entries.get(f"{code}|{_hid(person)}", [])
            if not any(self._settle(r) == adapter.ASYNC_STATUS_SUCCESS and self.records.get(r.key) is r
                       for r in entries):
                return f"人员 {mask_id(person)} 无进场记录，请先上传进场记录"
        return None

    # --- async results and queries ---
    def _async_result(self, serial: str) -> dict[str, Any]:
        record = self.serials.get(serial)
        if record is None:
            return _answer(BAD_PARAM, f"请求参数错误：requestSerialCode {serial or '(空)'} 不存在")
        assert isinstance(record, _Record)
        status = self._settle(record)
        if status == adapter.ASYNC_STATUS_SUCCESS:
            body: dict[str, Any] = {"status": status, "result": "处理成功"}
            body["teamSysNo" if record.kind == "team" else "id"] = record.platform_id
            return _answer(OK, "成功", body)
        if status == adapter.ASYNC_STATUS_FAILURE:
            return _answer(OK, "成功", {"status": status, "result": "处理失败：模拟平台按设定拒绝该数据"})
        return _answer(OK, "成功", {"status": status, "result": "处理中"})

    def _query(self, method: str, data: dict[str, Any]) -> dict[str, Any]:
        kinds = [k for k, m in QUERY_METHODS.items() if m == method]
        if method == "WorkerEntryExit.Query":
            kinds = ["worker_exit" if str(data.get("type")) == EXIT_TYPE else "worker_entry"]
        kind = kinds[0]
        try:
            key = lookup_key(kind, data)
        except KeyError as e:
            return _answer(BAD_PARAM, f"请求参数错误：缺少 {e.args[0]}")
        record = self.records.get(key)
        rows: list[dict[str, Any]] = []
        if record is not None:
            status = self._settle(record)
            if self.records.get(key) is record:  # a failed Add disappears when it settles
                row = {"handleStatus": status, "teamSysNo" if kind == "team" else "id": record.platform_id}
                rows.append(row)
        return _answer(OK, "成功", {"pageIndex": 0, "pageSize": 1, "totalCount": len(rows), "rows": rows})


# --- payload rules (the platform's style of reasons) -------------------------------------------------------------

REQUIRED: dict[str, tuple[str, ...]] = {
    "project": ("projectCode", "name", "category", "prjStatus", "areaCode"),
    "project_unit": ("projectCode", "corpCode", "corpName", "corpType"),
    "team": ("projectCode", "corpCode", "corpName", "teamName"),
    "worker": ("projectCode", "corpCode", "teamName", "workerList"),
    "worker_entry": ("projectCode", "corpCode", "teamName", "workerList"),
    "worker_exit": ("projectCode", "corpCode", "teamName", "workerList"),
    "contract": ("projectCode", "contractList"),
    "attendance": ("projectCode", "dataList"),
    "payroll": ("projectCode", "corpCode", "payMonth", "detailList"),
}
ITEM_REQUIRED: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "worker": ("workerList", "workerName", ("workerName", "idCardType", "idCardNumber", "workRole")),
    "worker_entry": ("workerList", "", ("idCardType", "idCardNumber", "date", "type")),
    "worker_exit": ("workerList", "", ("idCardType", "idCardNumber", "date", "type")),
    "contract": ("contractList", "", ("corpCode", "idCardType", "idCardNumber", "contractPeriodType", "startDate")),
    "attendance": ("dataList", "", ("idCardType", "idCardNumber", "date", "direction")),
    "payroll": ("detailList", "", ("idCardType", "idCardNumber", "totalPayAmount", "actualAmount")),
}


def validate(kind: str, method: str, data: Mapping[str, Any]) -> str | None:
    """The first problem with a write's data, worded like the platform, or None."""
    for name in REQUIRED[kind]:
        if data.get(name) in (None, "", []):
            return f"{name}不能为空"
    if kind == "project_unit" and data.get("corpType") not in set(CORP_TYPE.values()) | {
            "002", "003", "004", "005", "010", "011", "012"}:
        return f"corpType 取值 {data.get('corpType')} 不在参建单位类型字典中"
    for name in ("corpCode",):
        if data.get(name) and len(str(data[name])) != 18:
            return f"{name} 必须是 18 位统一社会信用代码"
    spec = ITEM_REQUIRED.get(kind)
    if spec:
        items = data.get(spec[0])
        if not isinstance(items, list) or not items:
            return f"{spec[0]}不能为空"
        if len(items) != 1 and kind != "payroll":
            return f"{spec[0]} 每次只能提交 1 条（模拟平台）"
        for item in items:
            if not isinstance(item, dict):
                return f"{spec[0]} 的元素必须是对象"
            for name in spec[2]:
                if item.get(name) in (None, ""):
                    return f"{spec[0]}.{name}不能为空"
            problem = _check_id(item)
            if problem:
                return problem
            if kind == "worker" and str(item.get("workRole")) not in ("10", "20"):
                return f"workRole 取值 {item.get('workRole')} 不在工人类型字典中（10 管理人员，20 建筑工人）"
            if kind == "worker" and str(item.get("workRole")) == "20" and not item.get("workType"):
                return "建筑工人的 workType（工种）不能为空"
            if kind in ("worker_entry", "worker_exit") and str(item.get("type")) not in (ENTRY_TYPE, EXIT_TYPE):
                return f"type 取值 {item.get('type')} 无效（1 进场，0 退场）"
    if kind == "team" and data.get("responsiblePersonIDNumber"):
        problem = _check_id({"idCardType": data.get("responsiblePersonIDCardType"),
                             "idCardNumber": data["responsiblePersonIDNumber"]}, "responsiblePersonIDNumber")
        if problem:
            return problem
    return None


def _check_id(item: Mapping[str, Any], name: str = "idCardNumber") -> str | None:
    number = str(item.get("idCardNumber") or "").upper()
    if str(item.get("idCardType") or "01") != "01" or not number:
        return None
    if len(number) != 18 or not number[:17].isdigit():
        return f"{name} 格式错误（居民身份证号应为 18 位）"
    if id_check_char(number[:17]) != number[17]:
        return f"{name} 校验位错误"
    return None


def _first(data: Mapping[str, Any], name: str) -> dict[str, Any]:
    items = data.get(name)
    return items[0] if isinstance(items, list) and items and isinstance(items[0], dict) else {}


def _id_of(kind: str, data: Mapping[str, Any]) -> str:
    for name in ("workerList", "contractList", "dataList", "detailList"):
        item = _first(data, name)
        if item.get("idCardNumber"):
            return str(item["idCardNumber"]).upper()
    return str(data.get("idCardNumber") or "").upper()


def _hid(number: str) -> str:
    """An ID number as it appears in the simulator's keys: masked + a short hash (unique, not readable)."""
    return f"{mask_id(number)}#{hashlib.sha256(number.encode()).hexdigest()[:10]}"


def entity_key(kind: str, data: Mapping[str, Any]) -> str:
    """The natural key of a write's entity, as a string (``kind|projectCode|…``)."""
    return lookup_key(kind, adapter.natural_key(kind, _request(data)))  # type: ignore[arg-type]


def lookup_key(kind: str, key: Mapping[str, Any]) -> str:
    code = key["projectCode"]
    if kind == "project":
        return f"project|{code}"
    if kind == "project_unit":
        return f"project_unit|{code}|{key['corpCode']}"
    if kind == "team":
        return f"team|{code}|{key['corpCode']}|{key['teamName']}"
    if kind == "payroll":
        return f"payroll|{code}|{key['corpCode']}|{key['payMonth']}"
    person = _hid(str(key["idCardNumber"]).upper())
    if kind == "worker":
        return f"worker|{code}|{person}"
    if kind in ("worker_entry", "worker_exit"):
        return f"{kind}|{code}|{person}|{key['date']}"
    if kind == "contract":
        return f"contract|{code}|{person}|{key['startDate']}"
    if kind == "attendance":
        return f"attendance|{code}|{person}|{key['date']}|{key['direction']}"
    raise KeyError(kind)


def _request(data: Mapping[str, Any]) -> WireRequest:
    return WireRequest(method="", data=dict(data))


def _answer(code: int, message: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "data": data}


# --- server ------------------------------------------------------------------------------------------------------

@dataclass
class SimulatorHandle:
    """A running simulator: ``url`` (the POST endpoint), ``stats``, ``set_mode()``, ``stop()``."""

    sim: PlatformSimulator
    runner: web.AppRunner
    host: str
    port: int
    site: web.TCPSite | None
    tasks: set[asyncio.Future[None]] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/api"

    @property
    def stats(self) -> SimulatorStats:
        return self.sim.stats

    async def set_mode(self, mode: str | None = None, **rates: float) -> None:
        """Change behaviour; ``down`` stops listening, any other mode listens again (same port)."""
        self.sim.set_mode(mode, **rates)
        if mode == "down" and self.site is not None:
            await self.site.stop()
            self.site = None
        elif mode is not None and mode != "down" and self.site is None:
            self.site = web.TCPSite(self.runner, self.host, self.port, reuse_address=True)
            await self.site.start()

    async def stop(self) -> None:
        self.sim.stopping.set()
        for task in list(self.tasks):
            task.cancel()
        await self.runner.cleanup()
        self.site = None


def make_app(sim: PlatformSimulator) -> web.Application:
    app = web.Application(client_max_size=2 * 1024 * 1024)

    async def endpoint(request: web.Request) -> web.StreamResponse:
        return await sim.handle(request)

    async def mode(request: web.Request) -> web.Response:
        try:
            body = await request.json()
            settings = {k: body[k] for k in ("fail_rate", "drop_rate", "error_rate", "delay", "hang_s", "rate_limit")
                        if k in body}
            new_mode = body.get("mode")
            if new_mode == "down":  # answer first, then stop listening; back to normal after for_s (default 30)
                sim.set_mode(None, **settings)
                if sim.on_mode is not None:
                    await sim.on_mode(float(body.get("for_s", 30)))
                return web.json_response({"ok": True, "mode": "down"})
            sim.set_mode(new_mode, **settings)
        except (ValueError, TypeError, AttributeError) as e:
            return web.json_response({"ok": False, "error": str(e)}, status=400)
        return web.json_response({"ok": True, "mode": sim.config.mode})

    async def stats(_request: web.Request) -> web.Response:
        return web.json_response(sim.stats.as_dict(), dumps=lambda o: json.dumps(o, ensure_ascii=False))

    app.router.add_post("/api", endpoint)
    app.router.add_post("/", endpoint)
    app.router.add_post("/__sim/mode", mode)
    app.router.add_get("/__sim/stats", stats)
    return app


async def start_simulator(host: str = "127.0.0.1", port: int = 0, **cfg: Any) -> SimulatorHandle:
    """Start a simulator on ``host:port`` (0 = a free port). ``cfg``: fields of ``SimConfig``."""
    sim = PlatformSimulator(SimConfig(**cfg))
    runner = web.AppRunner(make_app(sim), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    await site.start()
    bound = port or int(runner.addresses[0][1])
    handle = SimulatorHandle(sim, runner, host, bound, site)

    async def down_for(seconds: float) -> None:
        # "down" asked on the admin endpoint (same port): answer, stop listening, listen again after `seconds`
        async def cycle() -> None:
            await asyncio.sleep(0.05)
            await handle.set_mode("down")
            await asyncio.sleep(seconds)
            if handle.sim.config.mode == "down":
                await handle.set_mode("normal")
        handle.tasks.add(task := asyncio.ensure_future(cycle()))
        task.add_done_callback(handle.tasks.discard)
    sim.on_mode = down_for
    if cfg.get("mode") == "down":
        await handle.set_mode("down")
    return handle
