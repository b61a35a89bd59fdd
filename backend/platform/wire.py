"""The platform's language as plain values (no DB, no HTTP).

Shared by the adapter (our DB -> WireRequest), the client (WireRequest -> HTTP ->
SubmitOutcome/QueryOutcome), the simulator and the outbox/uploader.  Field and
method names follow seed 003 (全国建筑工人管理服务信息平台数据接口标准); see
docs/platform-interface.md for the table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

EntityKind = Literal[
    "project",
    "project_unit",
    "team",
    "worker",
    "worker_entry",
    "worker_exit",
    "contract",
    "attendance",
    "payroll",
]
"""What an upload task is about; one platform method family per kind (see adapter.METHODS)."""

ENTITY_KINDS: tuple[EntityKind, ...] = (
    "project",
    "project_unit",
    "team",
    "worker",
    "worker_entry",
    "worker_exit",
    "contract",
    "attendance",
    "payroll",
)

Op = Literal["add", "update"]
"""Add = first upload of an entity; update = re-upload after an edit (never a second Add)."""


@dataclass(frozen=True)
class PlatformCredentials:
    """Where and as whom to speak: the platform's single POST endpoint and the appid/appsecret pair.

    The outbox helper stores appid/appsecret encrypted per district (optionally per project);
    this value is built from the decrypted pair only in memory. ``repr`` hides the secret.
    """

    base_url: str
    appid: str
    appsecret: str = field(repr=False)


@dataclass(frozen=True)
class SubmitOutcome:
    """Result of one write call (``*.Add`` / ``*.Update``).

    - ``accepted``: the platform took the request; ``serial`` is its requestSerialCode to poll
      with AsyncHandleResult.Query (it may be None for platforms that answer synchronously).
    - ``rejected``: the platform refused the content (code != 0: validation, duplicate,
      order); ``reason`` is the platform's message. Do not retry; wait for a human fix.
    - ``retryable``: transport trouble (timeout, connection error, 5xx, HTML/garbage
      answer, bad signature clock skew ...); ``reason`` says which. Retry with backoff, but
      reconcile through ``lookup`` first when the request may have reached the platform.
    """

    kind: Literal["accepted", "rejected", "retryable"]
    serial: str | None
    reason: str | None
    http_status: int | None


@dataclass(frozen=True)
class QueryOutcome:
    """Result of polling a serial (AsyncHandleResult.Query) or of a lookup (``*.Query``).

    - ``processing``: still being handled; poll again later.
    - ``success``: done; ``platform_id`` is the platform's id/code of the entity when it gave one.
    - ``failure``: the platform refused it asynchronously; ``reason`` is its message.
    - ``retryable``: transport trouble while asking; ask again later.
    - ``unknown``: the platform does not know the serial / entity (lookup: not there).
    """

    kind: Literal["processing", "success", "failure", "retryable", "unknown"]
    reason: str | None
    platform_id: str | None


@dataclass(frozen=True)
class WireRequest:
    """One call as the platform sees it: ``method`` (e.g. ``Project.Add``) and the JSON ``data`` object."""

    method: str
    data: dict[str, Any]
