"""aiohttp client of the national/provincial worker platform (seed 003 数据接口标准): one signed form POST.

Every answer ends in a value, never an exception: ``SubmitOutcome`` for writes, ``QueryOutcome`` for
AsyncHandleResult.Query and the entity lookups.  What counts as what:

- transport trouble — timeout, refused/reset connection, a reply dropped mid-way, HTTP 5xx/429/other non-200,
  an HTML page or anything that is not the platform's JSON, platform codes -2…-5 (signature, permission, IP,
  rate limit: not the data's fault) → ``retryable`` with the reason;
- the platform read the data and refused it — code -1 (请求参数错误) or any business code → ``rejected`` with
  the platform's message (no retry; a person fixes the data);
- code 0 → ``accepted`` with ``data.requestSerialCode``.

Payloads are never logged in clear: ``adapter.redact`` masks ID and bank numbers.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from typing import Any

import aiohttp

from backend.platform import adapter, signing
from backend.platform.wire import EntityKind, PlatformCredentials, QueryOutcome, SubmitOutcome, WireRequest

log = logging.getLogger(__name__)

# Platform answer codes that are about the call, not the data (seed 003 interface standard's return codes:
# 0 成功, -1 请求参数错误, -2 签名校验错误, -3 无API访问权限, -4 IP校验错误, -5 访问超过限制).
TRANSPORT_CODES = frozenset({-2, -3, -4, -5})
SNIPPET = 120  # characters of an unreadable answer kept in the reason
MAX_ANSWER_BYTES = 1024 * 1024  # an answer is a small JSON envelope; anything bigger is not the platform's


class _Unreadable(Exception):
    """The answer was not the platform's JSON envelope; the message says what it was."""


class PlatformClient:
    """Speaks to one platform endpoint with one appid/appsecret; the caller owns ``session``."""

    def __init__(self, creds: PlatformCredentials, *, session: aiohttp.ClientSession, timeout_s: float = 10) -> None:
        self.creds = creds
        self.session = session
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.timeout_s = timeout_s

    async def _call(self, method: str, data: Mapping[str, Any], nonce: str | None) -> tuple[int, dict[str, Any]]:
        """POST one call; returns (HTTP status, parsed JSON envelope) or raises _Unreadable / aiohttp errors."""
        form = signing.build_form(self.creds.appid, self.creds.appsecret, method, dict(data), nonce=nonce)
        async with self.session.post(self.creds.base_url, data=form, timeout=self.timeout) as resp:
            raw = await _read_bounded(resp.content, MAX_ANSWER_BYTES + 1)
            status = resp.status
            ctype = resp.headers.get("Content-Type", "")
        if len(raw) > MAX_ANSWER_BYTES:
            raise _Unreadable(f"平台应答过大（超过 {MAX_ANSWER_BYTES // 1024} KB）: {_snippet(raw)}", status)
        if status != 200:
            raise _Unreadable(f"HTTP {status}: {_snippet(raw)}", status)
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            kind = "HTML" if b"<html" in raw[:512].lower() or "html" in ctype else "非JSON"
            raise _Unreadable(f"平台返回{kind}内容（{ctype or '无类型'}）: {_snippet(raw)}", status) from None
        if not isinstance(body, dict) or "code" not in body:
            raise _Unreadable(f"平台返回无法识别的JSON: {_snippet(raw)}", status)
        return status, body

    async def _guarded(self, method: str, data: Mapping[str, Any], nonce: str | None
                       ) -> tuple[int | None, dict[str, Any] | None, str | None]:
        """(status, envelope, None) or (status, None, transport reason)."""
        try:
            status, body = await self._call(method, data, nonce)
            return status, body, None
        except _Unreadable as e:
            return e.args[1], None, e.args[0]
        except TimeoutError:
            return None, None, f"平台超时（{self.timeout_s:g} 秒无应答）"
        except aiohttp.ServerDisconnectedError:
            return None, None, "平台断开连接，未返回应答"
        except aiohttp.ClientConnectorError as e:
            return None, None, f"无法连接平台：{e.os_error or e}"
        except aiohttp.ClientPayloadError as e:
            return None, None, f"平台应答不完整：{e}"
        except aiohttp.ClientError as e:
            return None, None, f"平台通信错误：{type(e).__name__}: {e}"
        except asyncio.CancelledError:
            raise

    async def submit(self, req: WireRequest, *, nonce: str | None = None) -> SubmitOutcome:
        """Send one write (``*.Add`` / ``*.Update``). ``nonce`` defaults to a fresh random one."""
        status, body, trouble = await self._guarded(req.method, req.data, nonce)
        if trouble is not None or body is None:
            log.info("platform %s retryable: %s", req.method, trouble)
            return SubmitOutcome("retryable", None, trouble, status)
        code = _code(body)
        message = str(body.get("message") or "")
        if code == 0:
            data = body.get("data") if isinstance(body.get("data"), dict) else {}
            serial = data.get("requestSerialCode") if data else None
            return SubmitOutcome("accepted", str(serial) if serial else None, None, status)
        if code in TRANSPORT_CODES:
            return SubmitOutcome("retryable", None, f"平台拒绝调用（{code}）：{message}", status)
        log.info("platform %s rejected (%s): %s — %s", req.method, code, message, adapter.describe(req))
        return SubmitOutcome("rejected", None, message or f"平台返回错误码 {code}", status)

    async def query(self, serial: str) -> QueryOutcome:
        """AsyncHandleResult.Query: the outcome of an accepted write."""
        _, body, trouble = await self._guarded(adapter.ASYNC_RESULT_METHOD, {"requestSerialCode": serial}, None)
        if trouble is not None or body is None:
            return QueryOutcome("retryable", trouble, None)
        code = _code(body)
        message = str(body.get("message") or "")
        if code != 0:
            if code in TRANSPORT_CODES:
                return QueryOutcome("retryable", f"平台拒绝调用（{code}）：{message}", None)
            return QueryOutcome("unknown", message or f"平台返回错误码 {code}", None)
        data = body.get("data")
        if not isinstance(data, dict) or data.get("status") is None:
            return QueryOutcome("unknown", "平台未返回处理状态", None)
        status = str(data["status"])
        result = str(data.get("result") or "") or None
        if status in adapter.ASYNC_STATUS_PROCESSING:
            return QueryOutcome("processing", result, None)
        if status == adapter.ASYNC_STATUS_SUCCESS:
            return QueryOutcome("success", result, _platform_id(data))
        return QueryOutcome("failure", result or f"平台处理失败（状态 {status}）", None)

    async def lookup(self, kind: EntityKind, key: Mapping[str, Any]) -> QueryOutcome:
        """Does the platform already hold this entity? (its ``*.Query`` method with the natural key)

        success = it is there (``platform_id`` when given), processing = accepted and still being handled,
        unknown = not there, retryable = could not ask."""
        query = {"pageIndex": 0, "pageSize": 1, **key}
        _, body, trouble = await self._guarded(adapter.QUERY_METHODS[kind], query, None)
        if trouble is not None or body is None:
            return QueryOutcome("retryable", trouble, None)
        code = _code(body)
        if code != 0:
            message = str(body.get("message") or "")
            kind_ = "retryable" if code in TRANSPORT_CODES else "unknown"
            return QueryOutcome(kind_, message or f"平台返回错误码 {code}", None)
        data = body.get("data") if isinstance(body.get("data"), dict) else {}
        rows = data.get("rows") or []
        if not rows:
            return QueryOutcome("unknown", None, None)
        row = rows[0] if isinstance(rows[0], dict) else {}
        if str(row.get("handleStatus", adapter.ASYNC_STATUS_SUCCESS)) in adapter.ASYNC_STATUS_PROCESSING:
            return QueryOutcome("processing", None, _platform_id(row))
        return QueryOutcome("success", None, _platform_id(row))


async def _read_bounded(stream: aiohttp.StreamReader, limit: int) -> bytes:
    """The body, or its first ``limit`` bytes when it is longer."""
    parts: list[bytes] = []
    size = 0
    while size < limit:
        chunk = await stream.read(limit - size)
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
    return b"".join(parts)


def _code(body: Mapping[str, Any]) -> int:
    try:
        return int(body.get("code"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return -1


def _platform_id(data: Mapping[str, Any]) -> str | None:
    for key in ("teamSysNo", "id", "platformId"):
        if data.get(key) not in (None, ""):
            return str(data[key])
    return None


def _snippet(raw: bytes) -> str:
    text = raw[:SNIPPET * 4].decode("utf-8", errors="replace")
    text = " ".join(text.split())
    return text[:SNIPPET] + ("…" if len(text) > SNIPPET else "")
