"""Environment settings.  Everything a deployment may change comes from ``SMZ_*`` variables.

- ``SMZ_DATABASE_URL``: ``sqlite:///path/to/file.db`` (default ``sqlite:///<data dir>/smz.db``)
  or ``postgresql://user:pass@host:port/db``.
- ``SMZ_DATA_DIR``: where the SQLite file, uploads and the development key live (default ``./var``).
- ``SMZ_SECRET_KEY``: base64 of 32 random bytes; the key for ID-number encryption (AES-GCM) and the
  keyed look-up hash.  Without it a development key is created in the data dir with a warning —
  production must set it (``smz serve --production`` refuses to start without it).
- ``SMZ_HOST`` / ``SMZ_PORT``: web server (default 127.0.0.1:8000).
- ``SMZ_GATE_HOST`` / ``SMZ_GATE_PORT``: gate terminal TCP server (default 0.0.0.0:9848; 0 = off).
- ``SMZ_TILE_URL``: optional map tile URL template for operators with a tile server.
- ``SMZ_COOKIE_SECURE``: ``1`` when served over HTTPS (behind a TLS proxy).
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
    gate_host: str = "0.0.0.0"
    gate_port: int = 9848
    gate_idle_timeout_s: float = 180.0
    tile_url: str = ""
    cookie_secure: bool = False
    session_hours: int = 12
    login_max_failures: int = 5
    login_window_s: int = 300

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
        gate_host=_env("SMZ_GATE_HOST", "0.0.0.0"),
        gate_port=int(_env("SMZ_GATE_PORT", "9848")),
        gate_idle_timeout_s=float(_env("SMZ_GATE_IDLE_TIMEOUT_S", "180")),
        tile_url=_env("SMZ_TILE_URL", ""),
        cookie_secure=_env("SMZ_COOKIE_SECURE", "0") == "1",
    )
