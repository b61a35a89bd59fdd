"""Pluggable SMS senders for warning notifications (seed 001 §2.11.2 手机短信).

The product speaks one small JSON HTTP API to an SMS gateway (a provider adapter or a company relay)::

    POST {SMZ_SMS_URL}            Authorization: Bearer {SMZ_SMS_TOKEN}   (when a token is set)
    {"to": "13800000000", "text": "…", "sign": "实名制监管"}
    → 2xx {"id": "<provider message id>"}            sent
    → 4xx/5xx {"error": "…"} (or any body)           failed, with the error kept in the SMS log

Without ``SMZ_SMS_URL`` the ``NullSender`` records every message as failed with "未配置短信网关" — nothing is
dropped silently.  The app's sender is ``backend.runtime.AppServices.sms``; tests pass a sender pointed at a
local fake gateway to the function that sends.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import aiohttp

log = logging.getLogger("smz.supervision.sms")

SMS_TIMEOUT_S = 10.0  # our choice: a gateway slower than this is treated as a failure for that message
SMS_MAX_CHARS = 500  # our choice: longer texts are cut (long SMS are split by carriers at 67 characters)


@dataclass(frozen=True, slots=True)
class SmsResult:
    ok: bool
    provider_id: str | None = None
    error: str | None = None


@runtime_checkable  # Litestar checks a NamedDependency's value with isinstance
class SmsSender(Protocol):
    async def send(self, phone: str, text: str) -> SmsResult: ...


class NullSender:
    """No gateway configured: every message is recorded as not sent."""

    async def send(self, phone: str, text: str) -> SmsResult:
        return SmsResult(ok=False, error="未配置短信网关（SMZ_SMS_URL） / no SMS gateway configured")


class HttpSmsSender:
    """aiohttp client of the JSON gateway API above (one session per call: notifications are rare)."""

    def __init__(self, url: str, token: str | None = None, *, sign: str = "实名制监管",
                 timeout_s: float = SMS_TIMEOUT_S) -> None:
        self.url = url
        self.token = token
        self.sign = sign
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def send(self, phone: str, text: str) -> SmsResult:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        body = {"to": phone, "text": text[:SMS_MAX_CHARS], "sign": self.sign}
        try:
            async with aiohttp.ClientSession(timeout=self.timeout) as session, session.post(
                self.url, json=body, headers=headers
            ) as resp:
                try:
                    data = await resp.json(content_type=None)
                except ValueError:
                    data = None
                if 200 <= resp.status < 300:
                    provider_id = str(data.get("id")) if isinstance(data, dict) and data.get("id") else None
                    return SmsResult(ok=True, provider_id=provider_id)
                error = data.get("error") if isinstance(data, dict) else None
                return SmsResult(ok=False, error=f"HTTP {resp.status}: {error or resp.reason}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("SMS gateway %s failed: %s", self.url, exc)
            return SmsResult(ok=False, error=f"短信网关不可用 / gateway unreachable: {type(exc).__name__}")


def sender_from_env() -> SmsSender:
    """The configured sender: ``SMZ_SMS_URL`` (and ``SMZ_SMS_TOKEN``), else the ``NullSender``.  The app
    makes one (``backend.runtime.AppServices.sms``); tests hand their own to ``notify_cases``."""
    url = os.environ.get("SMZ_SMS_URL", "").strip()
    if url:
        return HttpSmsSender(url, os.environ.get("SMZ_SMS_TOKEN") or None)
    return NullSender()
