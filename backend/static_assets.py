"""Static files (pwa/static): content-hashed URLs cached for a year, gzip, and unhashed aliases.

- ``static_url("css/app.css")`` (a Jinja global) → ``/static/css/app.3f9c2a1b7e.css``: the name carries the first
  10 hex digits of the file's SHA-256, so the URL changes whenever the file does and the answer is cached for a
  year (``Cache-Control: public, max-age=31536000, immutable``).
- The plain URL (``/static/css/app.css``) keeps working, with ``Cache-Control: no-cache`` and an ETag: the browser
  revalidates (a cheap 304).  The phone's service worker (pwa/static/sw.js) caches these plain URLs under its own
  shell version, so it keeps working unchanged; a page that still writes a plain URL is just revalidated.
- A hashed URL whose hash is no longer current (a page rendered before a deploy) gets today's file, not cached.
- Text files (CSS, JS, JSON, SVG, the manifest) are sent gzip-compressed to clients that accept it (brotli is not
  in uv.lock); compressed bytes are kept in memory, per file version (the whole folder is ~0.5 MB).

Only regular files inside pwa/static are served; anything else is a 404.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from litestar import Request, Response, get

from backend.errors import NotFound

STATIC_DIR = Path(__file__).resolve().parent.parent / "pwa" / "static"
STATIC_PREFIX = "/static/"
HASH_LEN = 10
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
GZIP_MIN_BYTES = 512
_COMPRESSIBLE = ("text/", "application/javascript", "application/json", "application/manifest+json",
                 "image/svg+xml", "application/xml")
_HASHED = re.compile(r"^(?P<stem>.+)\.(?P<hash>[0-9a-f]{" + str(HASH_LEN) + r"})(?P<ext>\.[A-Za-z0-9]+)$")
mimetypes.add_type("application/manifest+json", ".webmanifest")
mimetypes.add_type("text/javascript", ".js")


@dataclass(frozen=True, slots=True)
class Asset:
    stamp: tuple[int, int]  # (mtime_ns, size): a changed file is read again
    digest: str
    data: bytes
    gz: bytes | None
    media_type: str

    @property
    def etag(self) -> str:
        return f'"{self.digest}"'


class StaticAssets:
    """The files of one folder, read on first use and again when their mtime or size changes."""

    def __init__(self, root: Path = STATIC_DIR) -> None:
        self.root = root.resolve()
        self._cache: dict[str, Asset] = {}
        self._lock = threading.Lock()

    def _path(self, rel: str) -> Path | None:
        rel = rel.lstrip("/")
        if not rel or "\\" in rel or "\x00" in rel or any(p in ("", ".", "..") for p in rel.split("/")):
            return None
        path = (self.root / rel).resolve()
        if not path.is_relative_to(self.root) or not path.is_file():
            return None
        return path

    def asset(self, rel: str) -> Asset | None:
        """The file at ``rel`` (relative to the folder), or None when there is no such file."""
        path = self._path(rel)
        if path is None:
            return None
        st = path.stat()
        stamp = (st.st_mtime_ns, st.st_size)
        key = path.relative_to(self.root).as_posix()
        hit = self._cache.get(key)
        if hit is not None and hit.stamp == stamp:
            return hit
        data = path.read_bytes()
        media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        gz = None
        if media_type.startswith(_COMPRESSIBLE) and len(data) >= GZIP_MIN_BYTES:
            packed = gzip.compress(data, compresslevel=9, mtime=0)
            gz = packed if len(packed) < len(data) else None
        asset = Asset(stamp, hashlib.sha256(data).hexdigest()[:HASH_LEN], data, gz, media_type)
        with self._lock:
            self._cache[key] = asset
        return asset

    def url(self, rel: str) -> str:
        """``css/app.css`` → ``/static/css/app.<hash>.css`` (the plain URL when the file does not exist)."""
        rel = rel.lstrip("/")
        if rel.startswith("static/"):
            rel = rel[len("static/"):]
        asset = self.asset(rel)
        if asset is None:
            return STATIC_PREFIX + rel
        stem, dot, ext = rel.rpartition(".")
        if not dot or "/" in ext:
            return f"{STATIC_PREFIX}{rel}.{asset.digest}"
        return f"{STATIC_PREFIX}{stem}.{asset.digest}.{ext}"

    def resolve(self, rel: str) -> tuple[Asset, bool] | None:
        """The asset a request path names and whether the URL is the current hashed one (→ cache for a year)."""
        rel = rel.lstrip("/")
        plain = self.asset(rel)
        if plain is not None:
            return plain, False
        m = _HASHED.match(rel)
        if m is None:
            return None
        asset = self.asset(m["stem"] + m["ext"])
        if asset is None:
            return None
        return asset, asset.digest == m["hash"]


ASSETS = StaticAssets()


def static_url(rel: str) -> str:
    """The Jinja global: ``{{ static_url('css/app.css') }}``."""
    return ASSETS.url(rel)


def static_response(request: Request[Any, Any, Any], rel: str, assets: StaticAssets = ASSETS) -> Response[bytes]:
    found = assets.resolve(rel)
    if found is None:
        raise NotFound("文件不存在", "File not found")
    asset, immutable = found
    headers = {"Cache-Control": IMMUTABLE if immutable else REVALIDATE, "ETag": asset.etag,
               "Vary": "Accept-Encoding", "X-Content-Type-Options": "nosniff"}
    if request.headers.get("if-none-match", "") in (asset.etag, "W/" + asset.etag):
        return Response(b"", status_code=304, headers=headers)
    body = asset.data
    if asset.gz is not None and "gzip" in request.headers.get("accept-encoding", "").lower():
        body = asset.gz
        headers["Content-Encoding"] = "gzip"
    media_type = asset.media_type
    if media_type.startswith("text/") or media_type in ("application/json", "application/manifest+json"):
        media_type += "; charset=utf-8"
    return Response(body, media_type=media_type, headers=headers)


@get(["/static/{path:path}"], include_in_schema=False, sync_to_thread=False, opt={"static": True})
def static_file(request: Request[Any, Any, Any], path: str) -> Response[bytes]:
    """Files of pwa/static, by plain or hashed name (see the module's docstring)."""
    return static_response(request, path)
