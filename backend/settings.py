"""Environment settings.  Everything a deployment may change comes from ``SMZ_*`` variables.

- ``SMZ_DATABASE_URL``: ``sqlite:///path/to/file.db`` (default ``sqlite:///<data dir>/smz.db``)
  or ``postgresql://user:pass@host:port/db``.
- ``SMZ_DATA_DIR``: where the SQLite file, uploads and the development key live (default ``./var``).
- ``SMZ_SECRET_KEY``: base64 of 32 random bytes; the key for ID-number encryption (AES-GCM) and the
  keyed look-up hash.  Without it a development key is created in the data dir with a warning —
  production must set it (``smz serve --production`` refuses to start without it).
- ``SMZ_OLD_SECRET_KEYS``: comma-separated base64 keys being retired by ``smz rotate-key`` (docs/security.md):
  still read (ciphertexts carry their key id), never used to write; remove one when ``smz rotate-key --check``
  reports nothing left under it.
- ``SMZ_HOST`` / ``SMZ_PORT``: web server (default 127.0.0.1:8000).
- ``SMZ_GATE_HOST`` / ``SMZ_GATE_PORT``: gate terminal TCP server (default 127.0.0.1:9848; 0 = off).
- ``SMZ_GATE_BATCH_ROWS`` / ``SMZ_GATE_BATCH_WAIT_MS`` / ``SMZ_GATE_BATCH_INFLIGHT``: group commit of gate
  punches (default 100 punches or 10 ms, 4 batches committing at once on PostgreSQL; docs/gate.md).
  The gate protocol is cleartext: in production listen on the site VPN's address or behind a
  TLS-terminating TCP proxy, never on an open interface (docs/security.md).
- ``SMZ_GATE_LOGIN_TIMEOUT_S``: a gate connection must log in (843) within this (default 10 s).
- ``SMZ_GATE_MAX_CONNECTIONS``: gate connection cap (default 0 = the open-file limit − 1024, ≥ 64).
- ``SMZ_GATE_TAKEOVER_SILENCE_S``: a login for a serial online from another address replaces that
  connection only after it was silent this long (default: the idle timeout); otherwise refused.
- ``SMZ_TILE_URL``: optional map tile URL template for operators with a tile server.
- ``SMZ_COOKIE_SECURE``: ``1`` when served over HTTPS (behind a TLS proxy).
- ``SMZ_PARSE_MEMORY_MB``: memory (address space) cap of an upload-parsing worker process (default 1024).
- ``SMZ_DEMO_MODE``: ``1`` when the app serves the demo data (set by ``smz demo``): a demo worker without an
  enrolled face may enrol their own face at the first phone clock-in (clearly labelled; refused otherwise).
- ``SMZ_UPLOADER``: ``0`` stops ``smz serve`` from running the platform uploader (``smz uploader`` runs it alone);
  ``SMZ_UPLOAD_CONCURRENCY`` / ``_RATE_PER_S`` / ``_POLL_INTERVAL_S`` / ``_GIVE_UP_S`` / ``_CIRCUIT_AFTER_S`` /
  ``_LEASE_S`` / ``_MAX_ATTEMPTS`` / ``_BACKOFF_BASE_S`` / ``_TIMEOUT_S`` tune it (see ``Settings``).
- ``SMZ_TRUSTED_PROXIES``: comma-separated addresses or networks (``127.0.0.1,10.0.0.0/8``) of reverse proxies
  whose ``X-Forwarded-For`` is believed; default empty = believe nobody (the peer address is the client).
- ``SMZ_PHOTO_STORE``: where punch photos live (backend.photostore): ``file:///var/lib/smz/photos`` (default
  ``<data dir>/photos``) or ``s3://bucket/prefix?endpoint=http://minio:9000&region=us-east-1`` with
  ``SMZ_PHOTO_STORE_ACCESS_KEY`` / ``SMZ_PHOTO_STORE_SECRET_KEY`` (docs/deployment.md).
"""

from __future__ import annotations

import base64
import logging
import os
import secrets
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

log = logging.getLogger("smz.settings")


def _env(name: str, default: str) -> str:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    secret_key: bytes = field(repr=False)
    secret_key_from_env: bool
    host: str = "127.0.0.1"
    port: int = 8000
    gate_host: str = "127.0.0.1"
    gate_port: int = 9848
    gate_idle_timeout_s: float = 180.0
    # Gate security (docs/security.md).  Our choices, not from a seed: a terminal logs in right after
    # it connects, so 10 s is plenty; failed 843 logins are limited like web logins (5 min window),
    # 10 per serial and 30 per source address (a site's terminals share one NAT address, so one
    # misconfigured terminal must not lock out the others); 0 connections = derived from RLIMIT_NOFILE.
    gate_login_timeout_s: float = 10.0
    gate_max_connections: int = 0
    gate_takeover_silence_s: float | None = None  # None: the idle timeout
    gate_login_max_failures_per_serial: int = 10
    gate_login_max_failures_per_address: int = 30
    gate_login_window_s: int = 300
    # Group commit of gate punches (backend.attendance.batching; issue 18; our engineering choice, measured with
    # benchmarks/gate.py): a batch is committed when this many punches wait or this long after the first arrived,
    # and on PostgreSQL this many batches may commit at once (SQLite: one, it has one writer).  10 ms rather than
    # 2: at 1,000 terminals × 1 punch/s, 0.73 against 0.98 ms of CPU a punch and a lower p95, same p99.
    gate_batch_max_rows: int = 100
    gate_batch_wait_ms: float = 10.0
    gate_batch_inflight: int = 4
    # PostgreSQL connections per process (backend.db.start_pool).  A gate batch reads its facts on three at
    # once and up to ``gate_batch_inflight`` batches commit together, beside the web requests: 10 made batches
    # queue for a connection at a thousand terminals (issue 18).  Mind max_connections × processes.
    db_pool_max: int = 20
    # Connections a server process (``smz serve``, ``smz gate-server``) opens at start, before any terminal or
    # browser arrives: at 1,000 terminals the first second's batches otherwise waited for new connections (and
    # their first prepares) — ack p99 after the first second 72 → 26 ms with 12 open (issue 18, benchmarks/gate.py).
    db_pool_warm: int = 12
    tile_url: str = ""
    cookie_secure: bool = False
    session_hours: int = 12
    # Who-is-asking cache (backend/accounts/principals.py): how long a token's account is kept without asking the
    # database.  Changes invalidate it at once in this process and, on PostgreSQL, in every process (NOTIFY); the
    # TTL only bounds a change made by another process on SQLite (a CLI command).  0 turns the cache off.
    auth_cache_ttl_s: float = 10.0
    # Server processes share the login limiter's counts (backend/accounts/shared_limits.py; PostgreSQL NOTIFY).
    # Off only where one process is known to be alone with the database (the test suite's many app instances).
    login_limits_shared: bool = True
    # Login limiter (backend.accounts.services.LoginLimiter), failures per sliding window of login_window_s:
    # - login_max_failures per username *and* client address: room for a person's typos (5 is the usual
    #   lockout figure; GB/T 22239-2019 asks for 登录失败处理 / 限制非法登录次数 without a number), then
    #   that username is blocked from that address only;
    # - login_user_max_failures per username from all addresses: caps distributed guessing against one
    #   account (≤ 240 guesses an hour) while one attacker address alone can never lock its owner out;
    # - login_address_max_failures per client address: a generous ceiling for password spraying from one
    #   address.  A site office or 4G router (NAT) with a few hundred workers makes far fewer than 100
    #   typos in 5 minutes, and attempts refused by a full key are not counted, so one attacker hammering
    #   one username behind that NAT adds only 5 to the address budget: they need 20+ usernames to reach it.
    login_max_failures: int = 5
    login_user_max_failures: int = 20
    login_address_max_failures: int = 100
    login_window_s: int = 300
    # Upload parsing workers (backend.bounded): the address-space cap of each worker process
    # (SMZ_PARSE_MEMORY_MB; our choice: 1 GB holds a 20 MB unpacked workbook or 8 MB KML many times over,
    # while a zip bomb fails with MemoryError instead of taking the server's memory) and how many parse at once.
    parse_worker_memory_mb: int = 1024
    parse_workers: int = 2
    # Reverse proxies whose X-Forwarded-For is believed (SMZ_TRUSTED_PROXIES): IPs or CIDR networks.
    trusted_proxies: tuple[str, ...] = ()
    # The demo (``smz demo``): demo-only conveniences such as self-enrolment at the first phone clock-in.
    demo_mode: bool = False
    # Upload to the provincial/national worker platform (backend.platform.uploader; issue 17).  ``smz serve``
    # runs the uploader unless SMZ_UPLOADER=0; apps built by tests do not.  Per platform endpoint: requests at
    # once and per second (our choice: polite to a shared government service), result polling interval and
    # give-up time, how long failing before the circuit opens, the SQLite leader lease, retries before 上传失败.
    uploader_in_serve: bool = True
    upload_concurrency: int = 8
    upload_rate_per_s: float = 50.0
    upload_poll_interval_s: float = 5.0
    upload_give_up_s: float = 6 * 3600.0
    upload_circuit_after_s: float = 120.0
    upload_lease_s: float = 30.0
    upload_max_attempts: int = 30
    upload_backoff_base_s: float = 2.0
    upload_timeout_s: float = 15.0
    # Key ring (backend.crypto, ``smz rotate-key``): keys being retired, read-only (SMZ_OLD_SECRET_KEYS).
    old_secret_keys: tuple[bytes, ...] = field(default=(), repr=False)
    # Punch photo store (backend.photostore; issue 18): a URL, and the object store's credentials (s3:// only).
    photo_store: str = ""
    photo_store_access_key: str = field(default="", repr=False)
    photo_store_secret_key: str = field(default="", repr=False)

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith(("postgres://", "postgresql://"))

    @property
    def sqlite_path(self) -> Path:
        assert not self.is_postgres
        return Path(self.database_url.removeprefix("sqlite:///"))

    @property
    def upload_dir(self) -> Path:
        return self.data_dir / "uploads"


def _load_key(data_dir: Path) -> tuple[bytes, bool]:
    raw = os.environ.get("SMZ_SECRET_KEY")
    if raw:
        try:
            key = base64.b64decode(raw, validate=True)
        except ValueError as exc:
            raise SystemExit("SMZ_SECRET_KEY must be base64 of 32 bytes / 需要 32 字节的 base64 密钥") from exc
        if len(key) != 32:
            raise SystemExit("SMZ_SECRET_KEY must decode to 32 bytes / 密钥长度必须为 32 字节")
        return key, True
    key_file = data_dir / "dev-secret.key"
    if key_file.exists():
        return base64.b64decode(key_file.read_text().strip()), False
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    key_file.write_text(base64.b64encode(key).decode())
    key_file.chmod(0o600)
    log.warning("SMZ_SECRET_KEY not set: created a development key in %s (set it in production)", key_file)
    return key, False


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    data_dir = Path(_env("SMZ_DATA_DIR", "var")).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    key, from_env = _load_key(data_dir)
    return Settings(
        data_dir=data_dir,
        database_url=_env("SMZ_DATABASE_URL", f"sqlite:///{data_dir / 'smz.db'}"),
        secret_key=key,
        secret_key_from_env=from_env,
        host=_env("SMZ_HOST", "127.0.0.1"),
        port=int(_env("SMZ_PORT", "8000")),
        gate_host=_env("SMZ_GATE_HOST", "127.0.0.1"),
        gate_port=int(_env("SMZ_GATE_PORT", "9848")),
        gate_idle_timeout_s=float(_env("SMZ_GATE_IDLE_TIMEOUT_S", "180")),
        gate_login_timeout_s=float(_env("SMZ_GATE_LOGIN_TIMEOUT_S", "10")),
        gate_batch_max_rows=int(_env("SMZ_GATE_BATCH_ROWS", "100")),
        gate_batch_wait_ms=float(_env("SMZ_GATE_BATCH_WAIT_MS", "10")),
        gate_batch_inflight=int(_env("SMZ_GATE_BATCH_INFLIGHT", "4")),
        db_pool_max=int(_env("SMZ_DB_POOL_MAX", "20")),
        db_pool_warm=int(_env("SMZ_DB_POOL_WARM", "12")),
        gate_max_connections=int(_env("SMZ_GATE_MAX_CONNECTIONS", "0")),
        gate_takeover_silence_s=float(os.environ["SMZ_GATE_TAKEOVER_SILENCE_S"])
        if os.environ.get("SMZ_GATE_TAKEOVER_SILENCE_S") else None,
        tile_url=_env("SMZ_TILE_URL", ""),
        cookie_secure=_env("SMZ_COOKIE_SECURE", "0") == "1",
        parse_worker_memory_mb=int(_env("SMZ_PARSE_MEMORY_MB", "1024")),
        trusted_proxies=_trusted_proxies(_env("SMZ_TRUSTED_PROXIES", "")),
        demo_mode=_env("SMZ_DEMO_MODE", "0") == "1",
        auth_cache_ttl_s=float(_env("SMZ_AUTH_CACHE_TTL_S", "10")),
        login_limits_shared=_env("SMZ_LOGIN_LIMITS_SHARED", "1") == "1",
        uploader_in_serve=_env("SMZ_UPLOADER", "1") == "1",
        upload_concurrency=int(_env("SMZ_UPLOAD_CONCURRENCY", "8")),
        upload_rate_per_s=float(_env("SMZ_UPLOAD_RATE_PER_S", "50")),
        upload_poll_interval_s=float(_env("SMZ_UPLOAD_POLL_INTERVAL_S", "5")),
        upload_give_up_s=float(_env("SMZ_UPLOAD_GIVE_UP_S", str(6 * 3600))),
        upload_circuit_after_s=float(_env("SMZ_UPLOAD_CIRCUIT_AFTER_S", "120")),
        upload_lease_s=float(_env("SMZ_UPLOAD_LEASE_S", "30")),
        upload_max_attempts=int(_env("SMZ_UPLOAD_MAX_ATTEMPTS", "30")),
        upload_backoff_base_s=float(_env("SMZ_UPLOAD_BACKOFF_BASE_S", "2")),
        upload_timeout_s=float(_env("SMZ_UPLOAD_TIMEOUT_S", "15")),
        old_secret_keys=_old_keys(_env("SMZ_OLD_SECRET_KEYS", ""), key),
        photo_store=_env("SMZ_PHOTO_STORE", f"file://{data_dir / 'photos'}"),
        photo_store_access_key=_env("SMZ_PHOTO_STORE_ACCESS_KEY", ""),
        photo_store_secret_key=_env("SMZ_PHOTO_STORE_SECRET_KEY", ""),
    )


def _old_keys(raw: str, current: bytes) -> tuple[bytes, ...]:
    """``SMZ_OLD_SECRET_KEYS``: comma-separated base64 32-byte keys (the current key, if listed, is skipped)."""
    keys: list[bytes] = []
    for item in (p.strip() for p in raw.split(",") if p.strip()):
        try:
            key = base64.b64decode(item, validate=True)
        except ValueError as exc:
            raise SystemExit("SMZ_OLD_SECRET_KEYS: not base64 / 旧密钥不是 base64") from exc
        if len(key) != 32:
            raise SystemExit("SMZ_OLD_SECRET_KEYS: a key must decode to 32 bytes / 旧密钥长度必须为 32 字节")
        if key != current and key not in keys:
            keys.append(key)
    return tuple(keys)


def _trusted_proxies(raw: str) -> tuple[str, ...]:
    """``SMZ_TRUSTED_PROXIES``: comma-separated IPs / CIDR networks; a typo stops the start (never trust by
    accident, never silently ignore a proxy)."""
    import ipaddress

    items = tuple(p.strip() for p in raw.split(",") if p.strip())
    for item in items:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError as exc:
            raise SystemExit(f"SMZ_TRUSTED_PROXIES: 无效的地址 / invalid address: {item!r}") from exc
    return items
