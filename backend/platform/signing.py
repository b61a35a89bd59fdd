"""Request signing of the national worker-platform interface (seed 003, 数据接口标准 §签名).

``sign`` = SHA-256 hex digest of the lower-cased string
``appid=…&data=…&format=json&method=…&nonce=…&timestamp=…&version=1.0&appsecret=…``
(parameters in that order, values as sent, not URL-encoded), with ``timestamp`` as
``yyyyMMddHHmmss`` in China time (Asia/Shanghai).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

CHINA_TZ = ZoneInfo("Asia/Shanghai")
TIMESTAMP_FORMAT = "%Y%m%d%H%M%S"
FORMAT = "json"
VERSION = "1.0"


def sign(appid: str, appsecret: str, method: str, data_json: str, nonce: str, timestamp: str,
         format: str = FORMAT, version: str = VERSION) -> str:
    """The ``sign`` form field: sha256 hex of the lower-cased canonical string."""
    canonical = (
        f"appid={appid}&data={data_json}&format={format}&method={method}"
        f"&nonce={nonce}&timestamp={timestamp}&version={version}&appsecret={appsecret}"
    )
    return hashlib.sha256(canonical.lower().encode("utf-8")).hexdigest()


def china_timestamp(at: datetime | None = None) -> str:
    """``yyyyMMddHHmmss`` in China time; ``at`` must be timezone-aware (default: now)."""
    moment = at if at is not None else datetime.now(CHINA_TZ)
    if moment.tzinfo is None:
        raise ValueError("timestamp needs an aware datetime")
    return moment.astimezone(CHINA_TZ).strftime(TIMESTAMP_FORMAT)


def parse_timestamp(value: str) -> datetime:
    """Inverse of ``china_timestamp`` (aware, China time). Raises ValueError on a bad value."""
    if len(value) != 14 or not value.isdigit():
        raise ValueError(f"bad timestamp {value!r}")
    return datetime.strptime(value, TIMESTAMP_FORMAT).replace(tzinfo=CHINA_TZ)


def new_nonce() -> str:
    """A random, practically unique nonce (32 hex chars)."""
    return secrets.token_hex(16)


def encode_data(data: dict[str, Any]) -> str:
    """The ``data`` form field: compact JSON, non-ASCII kept as is (signed exactly as sent)."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=False)


def build_form(appid: str, appsecret: str, method: str, data: dict[str, Any] | str, *,
               nonce: str | None = None, timestamp: str | None = None) -> dict[str, str]:
    """All form fields of one POST (``appid, method, format, version, timestamp, nonce, data, sign``)."""
    data_json = data if isinstance(data, str) else encode_data(data)
    nonce = nonce or new_nonce()
    timestamp = timestamp or china_timestamp()
    return {
        "appid": appid,
        "method": method,
        "format": FORMAT,
        "version": VERSION,
        "timestamp": timestamp,
        "nonce": nonce,
        "data": data_json,
        "sign": sign(appid, appsecret, method, data_json, nonce, timestamp),
    }


def verify(form: dict[str, str], appsecret: str) -> bool:
    """True when ``form['sign']`` matches the other fields under ``appsecret`` (constant-time compare)."""
    try:
        expected = sign(form["appid"], appsecret, form["method"], form["data"], form["nonce"], form["timestamp"],
                        form.get("format", FORMAT), form.get("version", VERSION))
    except KeyError:
        return False
    return hmac.compare_digest(expected, str(form.get("sign", "")).lower())


def within_window(timestamp: str, now: datetime, window: timedelta = timedelta(minutes=5)) -> bool:
    """True when ``timestamp`` (China time) is within ±``window`` of ``now``."""
    try:
        at = parse_timestamp(timestamp)
    except ValueError:
        return False
    return abs(at - now) <= window
