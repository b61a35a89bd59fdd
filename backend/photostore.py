"""Content-addressed photo store (issue 18 "Photos out of the punch table"): a punch photo is a file named by the
SHA-256 of its bytes, and the punch row holds that hash (``punch.photo_sha256``) and the content type.

    shas = await photostore.put_many([(jpeg, "image/jpeg"), ...])   # durable when it returns
    data = await photostore.get(sha)                                 # bytes or None

Where (``SMZ_PHOTO_STORE``, ``Settings.photo_store``):

- ``file:///var/lib/smz/photos`` (default: ``<data dir>/photos``): ``<root>/ab/cd/<sha>``; a gate batch's photos
  (``put_packed``) in one pack file ``<root>/packs/<day>/<name>.pack``, each row naming its slice
  (``punch.photo_loc``; ``get(sha, loc)``; retention ``release``s it).  A photo is written
  under its name and made durable (``FileStore._write``) — off the event loop — before ``put_many`` returns, so a
  row committed after it never points at a missing or partial file.  The same bytes
  are the same file, written once (a second put only refreshes its time, which keeps ``sweep`` away from it).
- ``s3://bucket/prefix?endpoint=http://minio:9000&region=us-east-1``: an S3-compatible object store (MinIO on
  premises), keys ``<prefix>/ab/cd/<sha>``, path-style requests signed with AWS Signature V4 (``sigv4_headers``;
  written here with aiohttp, no SDK), credentials from ``SMZ_PHOTO_STORE_ACCESS_KEY`` / ``_SECRET_KEY``.  An
  object store answers a PUT after it has stored the object durably.

Every call validates the hash (64 lower-case hex digits): a path or key is never built from anything else.
Back the store up with the database (docs/deployment.md): a punch row without its file has lost its photo.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import hashlib
import hmac
import os
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, quote, urlsplit

import aiohttp
from yarl import URL

from backend.settings import get_settings

SHA_RE = re.compile(r"[0-9a-f]{64}")
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
DEFAULT_TYPE = "image/jpeg"
_PUT_CONCURRENCY = 16  # requests at once to an object store
# How a file put makes its photos durable (issue 18, measured on this machine's ext4 disk, 7 KB photos): a fsync of
# each file and of its folder costs ≈ 0.2 ms of CPU a photo one after another and ≈ 1 ms spread over threads (the
# journal's locks) — more than the whole rest of a gate punch.  On Linux a put therefore writes every photo of the
# call (a gate batch's into one pack file), then makes them all durable with ONE syncfs(2) of the store's
# filesystem.  syncfs flushes everything dirty on that filesystem: give the photo store its
# own volume (docs/deployment.md).  Elsewhere (no syncfs): a fsync per file and per folder, as POSIX asks.
_FILE_CHUNK = 64  # photos per thread job (a migration's 500 go as 8 jobs)


def _libc(name: str, *argtypes: type) -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    """A C library function returning int (Linux), or None where the platform has none of that name."""
    try:
        fn = getattr(ctypes.CDLL(None, use_errno=True), name)
    except (OSError, AttributeError):
        return None
    fn.argtypes = list(argtypes)
    fn.restype = ctypes.c_int
    return fn


_SYNCFS = _libc("syncfs", ctypes.c_int)
_FALLOCATE = _libc("fallocate", ctypes.c_int, ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong)
_PUNCH_HOLE = 0x02 | 0x01  # FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE (linux/falloc.h)
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL
PACKS = "packs"  # the file store's folder of pack files (never swept as loose photos)
# A photo's place in a pack: "<day>/<32 hex>.pack:<offset>:<length>" (``punch.photo_loc``)
LOC_RE = re.compile(r"(\d{4}-\d{2}-\d{2}/[0-9a-f]{32}\.pack):(\d{1,12}):(\d{1,9})")


def check_sha(sha: str) -> str:
    """The hash itself, or ValueError: nothing but 64 lower-case hex digits ever becomes a path or a key."""
    if not isinstance(sha, str) or not SHA_RE.fullmatch(sha):
        raise ValueError(f"not a SHA-256 hex digest: {sha!r}")
    return sha


def check_loc(loc: str) -> tuple[str, int, int]:
    """(pack path relative to the packs folder, offset, length) of a valid location; ValueError otherwise (a path is
    never built from anything else)."""
    m = LOC_RE.fullmatch(loc)
    if m is None:
        raise ValueError(f"not a photo location: {loc[:80]!r}")
    return m.group(1), int(m.group(2)), int(m.group(3))


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def relative_key(sha: str) -> str:
    """``ab/cd/<sha>`` (two levels of 256 folders: ~15 k files a folder at a billion photos)."""
    check_sha(sha)
    return f"{sha[:2]}/{sha[2:4]}/{sha}"


class Store(Protocol):
    async def put_many(self, items: Sequence[tuple[bytes, str]]) -> list[str]: ...
    async def get(self, sha: str) -> bytes | None: ...
    async def exists(self, sha: str) -> bool: ...
    async def delete_many(self, shas: Iterable[str]) -> int: ...
    def older_than(self, cutoff: float) -> AsyncIterator[list[str]]: ...


# ============================================================================ filesystem


@dataclass(frozen=True)
class FileStore:
    root: Path
    # folders known to exist (``ab/cd``: at most 65,536), so that a put does not ask the filesystem each time
    _folders: set[str] = field(default_factory=set, compare=False, repr=False)

    def path(self, sha: str) -> Path:
        return self.root / relative_key(sha)

    async def put_many(self, items: Sequence[tuple[bytes, str]]) -> list[str]:
        """Hash and write in worker threads (nothing of it on the event loop), ``_FILE_CHUNK`` photos each."""
        data = [d for d, _ in items]
        chunks = [data[i:i + _FILE_CHUNK] for i in range(0, len(data), _FILE_CHUNK)]
        done = await asyncio.gather(*(asyncio.to_thread(self._write, chunk) for chunk in chunks))
        return [sha for shas in done for sha in shas]

    def _write(self, items: list[bytes]) -> list[str]:
        """Each photo durably under its hash.  Returns the hashes, in order.

        A new photo is created under its final name (O_EXCL) and written; the call's one sync makes it durable
        before the call returns, hence before any row naming it commits (issue 18: a temporary name and a rename
        per photo cost a fifth of the put's CPU, and plain os calls on strings half of pathlib's).  A name that
        exists already is checked by its content — a crash between write and sync can leave a short or zeroed
        file, whose row never committed — and, if it does not hash to its name, written again under a temporary
        name and renamed over it (atomic; the same bytes, also when another thread puts them at the same time)."""
        shas = [sha256_hex(d) for d in items]
        root = str(self.root)
        synced = False
        for sha, data in dict(zip(shas, items, strict=True)).items():
            folder = f"{root}/{sha[:2]}/{sha[2:4]}"
            target = f"{folder}/{sha}"
            try:
                fd = self._create(folder, target)
            except FileExistsError:
                if not _holds(target, sha):
                    _replace(folder, target, sha, data)
                else:  # in use again: not an orphan for ``sweep``
                    with contextlib.suppress(FileNotFoundError):
                        os.utime(target)
                synced = True  # synced again: the thread that wrote it may not have done so yet
                continue
            _fill(fd, data)
            if _SYNCFS is None:
                _fsync_dir(Path(folder))
            synced = True
        if synced and _SYNCFS is not None:
            _syncfs(self.root)
        return shas

    def _create(self, folder: str, path: str) -> int:
        """A new file at ``path`` in ``folder`` (O_EXCL: FileExistsError when the name is taken), the folder made
        first when this store does not know it yet (or it was removed behind its back)."""
        if folder not in self._folders:
            _make_dirs(Path(folder), self.root)
            self._folders.add(folder)
        try:
            return os.open(path, _NEW_FILE, 0o640)
        except FileNotFoundError:
            _make_dirs(Path(folder), self.root)
            return os.open(path, _NEW_FILE, 0o640)

    async def put_packed(self, items: Sequence[bytes]) -> list[tuple[str, str]]:
        """Every photo of the call in ONE new pack file, durable when this returns; (hash, location) per photo,
        in order (identical bytes twice: two slices — each punch releases its own at retention)."""
        return await asyncio.to_thread(self._write_pack, list(items))

    def _write_pack(self, items: list[bytes]) -> list[tuple[str, str]]:
        """One write and one sync for the whole call (issue 18: a file per photo cost ≈ 0.1 ms of CPU a photo in
        the kernel — inode, folder entry, block mapping — a pack ≈ 0.015 ms).  The pack is new (O_EXCL, a
        random name): it is never written again, so a slice never changes once a row names it."""
        day = datetime.now(UTC).strftime("%Y-%m-%d")
        folder = f"{self.root}/{PACKS}/{day}"
        name = f"{day}/{uuid.uuid4().hex}.pack"
        _fill(self._create(folder, f"{self.root}/{PACKS}/{name}"), b"".join(items))
        if _SYNCFS is None:
            _fsync_dir(Path(folder))
        else:
            _syncfs(self.root)
        out, offset = [], 0
        for data in items:
            out.append((sha256_hex(data), f"{name}:{offset}:{len(data)}"))
            offset += len(data)
        return out

    async def get_packed(self, sha: str, loc: str) -> bytes | None:
        """The slice at ``loc`` if it still holds the bytes named ``sha`` (None once released, or if missing)."""
        name, offset, length = check_loc(loc)
        return await asyncio.to_thread(_read_slice, f"{self.root}/{PACKS}/{name}", offset, length, sha)

    async def release(self, locs: Iterable[str]) -> int:
        """Free the slices (retention): a hole punched in the pack (its disk blocks freed, the file's size kept),
        or zeros where the filesystem cannot punch holes.  Returns how many slices were released."""
        places = [check_loc(loc) for loc in locs]
        return await asyncio.to_thread(_release_slices, f"{self.root}/{PACKS}", places)

    async def get(self, sha: str) -> bytes | None:
        path = self.path(sha)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            return None

    async def exists(self, sha: str) -> bool:
        return await asyncio.to_thread(self.path(sha).is_file)

    async def delete_many(self, shas: Iterable[str]) -> int:
        paths = [self.path(sha) for sha in shas]
        return sum(await asyncio.gather(*(asyncio.to_thread(_unlink_all, paths[i:i + 64])
                                          for i in range(0, len(paths), 64))))

    async def older_than(self, cutoff: float) -> AsyncIterator[list[str]]:
        """Hashes of the files last written before ``cutoff`` (epoch seconds), one top folder at a time."""
        if not self.root.is_dir():
            return
        tops = sorted(p for p in await asyncio.to_thread(lambda: list(self.root.iterdir()))
                      if p.is_dir() and p.name != PACKS)  # packs hold slices named by rows, not loose photos
        for top in tops:
            found = await asyncio.to_thread(_old_files, top, cutoff)
            if found:
                yield found


def _read_slice(path: str, offset: int, length: int, sha: str) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        data = os.pread(fd, length, offset)
    finally:
        os.close(fd)
    return data if len(data) == length and sha256_hex(data) == sha else None


def _release_slices(packs: str, places: list[tuple[str, int, int]]) -> int:
    by_pack: dict[str, list[tuple[int, int]]] = {}
    for name, offset, length in places:
        by_pack.setdefault(name, []).append((offset, length))
    released = 0
    for name, slices in sorted(by_pack.items()):
        try:
            fd = os.open(f"{packs}/{name}", os.O_WRONLY)
        except FileNotFoundError:
            continue
        try:
            for offset, length in slices:
                if _FALLOCATE is None or _FALLOCATE(fd, _PUNCH_HOLE, offset, length) != 0:
                    os.pwrite(fd, bytes(length), offset)  # no hole punching here: zeros
                released += 1
            os.fsync(fd)
        finally:
            os.close(fd)
    return released


def _holds(path: str, sha: str) -> bool:
    """The file at ``path`` holds the bytes named ``sha`` (a file left short or zeroed by a crash does not)."""
    try:
        with open(path, "rb") as f:
            return sha256_hex(f.read()) == sha
    except FileNotFoundError:
        return False


def _replace(folder: str, target: str, sha: str, data: bytes) -> None:
    """Write ``data`` to a temporary name in ``folder`` and rename it over ``target`` (atomic)."""
    tmp = f"{folder}/.{sha}.{uuid.uuid4().hex}.tmp"
    _fill(os.open(tmp, _NEW_FILE, 0o640), data)
    os.replace(tmp, target)
    if _SYNCFS is None:
        _fsync_dir(Path(folder))


def _fill(fd: int, data: bytes) -> None:
    """Write ``data`` to the new file ``fd`` and close it; fsync'ed where the put's one syncfs will not cover it."""
    try:
        _write_all(fd, data)
        if _SYNCFS is None:
            os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _make_dirs(folder: Path, root: Path) -> None:
    """Create ``folder`` and fsync the parent of each folder created (a new name is durable only then; with syncfs
    the put's one sync covers them)."""
    missing = []
    p = folder
    while not p.is_dir():
        missing.append(p)
        if p == root or p.parent == p:
            break
        p = p.parent
    for d in reversed(missing):
        with contextlib.suppress(FileExistsError):
            d.mkdir(mode=0o750)
        if _SYNCFS is None:
            _fsync_dir(d.parent)


def _syncfs(root: Path) -> None:
    """Everything written on the filesystem of ``root`` is on disk when this returns (Linux syncfs(2))."""
    assert _SYNCFS is not None
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if _SYNCFS(fd) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"syncfs: {os.strerror(err)}")
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _unlink_all(paths: list[Path]) -> int:
    n = 0
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            n += 1
    return n


def _old_files(top: Path, cutoff: float) -> list[str]:
    out = []
    for dirpath, _dirs, files in os.walk(top):
        for name in files:
            if SHA_RE.fullmatch(name):
                with contextlib.suppress(FileNotFoundError):
                    if os.stat(os.path.join(dirpath, name)).st_mtime < cutoff:
                        out.append(name)
            elif name.endswith(".tmp"):  # a write that crashed before its rename
                with contextlib.suppress(FileNotFoundError):
                    if os.stat(os.path.join(dirpath, name)).st_mtime < cutoff:
                        os.unlink(os.path.join(dirpath, name))
    return out


# ============================================================================ AWS Signature V4


def signing_key(secret: str, day: str, region: str, service: str) -> bytes:
    """kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, day), region), service), "aws4_request")."""
    k = hmac.new(("AWS4" + secret).encode(), day.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return k


def uri_encode(text: str, *, slash: bool = False) -> str:
    """RFC 3986 encoding as SigV4 wants it: everything but ``A-Z a-z 0-9 - _ . ~`` (and ``/`` in a path)."""
    return quote(text, safe="-_.~/" if slash else "-_.~")


def canonical_request(method: str, path: str, query: Mapping[str, str], headers: Mapping[str, str],
                      payload_sha256: str) -> tuple[str, str]:
    """(canonical request, signed header names).  ``path`` is already URI-encoded; ``headers``: lower-case
    names, every one of them signed."""
    names = sorted(headers)
    canon_query = "&".join(f"{uri_encode(k)}={uri_encode(v)}" for k, v in sorted(query.items()))
    canon_headers = "".join(f"{n}:{' '.join(headers[n].strip().split())}\n" for n in names)
    signed = ";".join(names)
    return "\n".join((method, path, canon_query, canon_headers, signed, payload_sha256)), signed


def signature(secret: str, amz_date: str, region: str, service: str, creq: str) -> str:
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    to_sign = "\n".join(("AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(creq.encode()).hexdigest()))
    return hmac.new(signing_key(secret, amz_date[:8], region, service), to_sign.encode(), hashlib.sha256).hexdigest()


def sigv4_headers(method: str, host: str, path: str, query: Mapping[str, str], payload_sha256: str, *,
                  access_key: str, secret_key: str, region: str, amz_date: str | None = None,
                  extra: Mapping[str, str] | None = None, service: str = "s3") -> dict[str, str]:
    """The headers of a signed request (``Authorization``, ``x-amz-date``, ``x-amz-content-sha256``, ``host`` and
    ``extra``, all signed)."""
    amz_date = amz_date or datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    headers = {"host": host, "x-amz-content-sha256": payload_sha256, "x-amz-date": amz_date}
    headers.update({k.lower(): v for k, v in (extra or {}).items()})
    creq, signed = canonical_request(method, path, query, headers, payload_sha256)
    sig = signature(secret_key, amz_date, region, service, creq)
    headers["authorization"] = (f"AWS4-HMAC-SHA256 Credential={access_key}/{amz_date[:8]}/{region}/{service}/"
                                f"aws4_request,SignedHeaders={signed},Signature={sig}")
    return headers


# ============================================================================ S3-compatible


class StoreError(RuntimeError):
    pass


@dataclass(frozen=True)
class S3Store:
    """No state of its own: each call opens one HTTP session (a batch's PUTs share its connections)."""

    endpoint: str  # http(s)://host[:port]
    bucket: str
    prefix: str
    region: str
    access_key: str = field(repr=False)
    secret_key: str = field(repr=False)
    timeout_s: float = 15.0

    def _key(self, sha: str) -> str:
        return (self.prefix.strip("/") + "/" if self.prefix.strip("/") else "") + relative_key(sha)

    def _session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout_s))

    async def _request(self, session: aiohttp.ClientSession, method: str, key: str | None, *, body: bytes = b"",
                       content_type: str | None = None,
                       query: Mapping[str, str] | None = None) -> tuple[int, bytes, Mapping[str, str]]:
        url = urlsplit(self.endpoint)
        path = "/" + uri_encode(self.bucket) + ("/" + uri_encode(key, slash=True) if key is not None else "")
        query = dict(query or {})
        extra = {"content-type": content_type} if content_type else None
        headers = sigv4_headers(method, url.netloc, path, query, sha256_hex(body) if body else EMPTY_SHA256,
                                access_key=self.access_key, secret_key=self.secret_key, region=self.region,
                                extra=extra)
        qs = "&".join(f"{uri_encode(k)}={uri_encode(v)}" for k, v in sorted(query.items()))
        target = f"{url.scheme}://{url.netloc}{path}" + (f"?{qs}" if qs else "")
        async with session.request(method, URL(target, encoded=True), data=body or None, headers=headers) as r:
            return r.status, await r.read(), r.headers

    async def put_many(self, items: Sequence[tuple[bytes, str]]) -> list[str]:
        shas = await asyncio.to_thread(lambda: [sha256_hex(data) for data, _ in items])
        unique = {sha: item for sha, item in zip(shas, items, strict=True)}
        gate = asyncio.Semaphore(_PUT_CONCURRENCY)

        async def put(session: aiohttp.ClientSession, sha: str, data: bytes, ctype: str) -> None:
            async with gate:
                status, body, _ = await self._request(session, "PUT", self._key(sha), body=data,
                                                      content_type=ctype or DEFAULT_TYPE)
            if status != 200:
                raise StoreError(f"photo store PUT {sha[:12]}…: HTTP {status} {body[:200]!r}")

        async with self._session() as session:
            await asyncio.gather(*(put(session, sha, d, t) for sha, (d, t) in unique.items()))
        return shas

    async def get(self, sha: str) -> bytes | None:
        async with self._session() as session:
            status, body, _ = await self._request(session, "GET", self._key(sha))
        if status == 404:
            return None
        if status != 200:
            raise StoreError(f"photo store GET {sha[:12]}…: HTTP {status}")
        return body

    async def content_type(self, sha: str) -> str | None:
        async with self._session() as session:
            status, _, headers = await self._request(session, "HEAD", self._key(sha))
        return headers.get("Content-Type") if status == 200 else None

    async def exists(self, sha: str) -> bool:
        async with self._session() as session:
            status, _, _ = await self._request(session, "HEAD", self._key(sha))
        if status not in (200, 404):
            raise StoreError(f"photo store HEAD {sha[:12]}…: HTTP {status}")
        return status == 200

    async def delete_many(self, shas: Iterable[str]) -> int:
        keys = [self._key(sha) for sha in shas]
        gate = asyncio.Semaphore(_PUT_CONCURRENCY)

        async def delete(session: aiohttp.ClientSession, key: str) -> None:
            async with gate:
                status, body, _ = await self._request(session, "DELETE", key)
            if status not in (200, 204, 404):
                raise StoreError(f"photo store DELETE: HTTP {status} {body[:200]!r}")

        async with self._session() as session:
            await asyncio.gather(*(delete(session, k) for k in keys))
        return len(keys)

    async def older_than(self, cutoff: float) -> AsyncIterator[list[str]]:
        """ListObjectsV2 of the prefix, a page at a time: the hashes of objects last modified before ``cutoff``."""
        from defusedxml import ElementTree

        prefix = self.prefix.strip("/") + "/" if self.prefix.strip("/") else ""
        token: str | None = None
        while True:
            query = {"list-type": "2", "prefix": prefix, **({"continuation-token": token} if token else {})}
            async with self._session() as session:
                status, body, _ = await self._request(session, "GET", None, query=query)
            if status != 200:
                raise StoreError(f"photo store LIST: HTTP {status} {body[:200]!r}")
            root = ElementTree.fromstring(body)
            ns = root.tag[:root.tag.index("}") + 1] if root.tag.startswith("{") else ""
            found = []
            for item in root.iter(f"{ns}Contents"):
                name = (item.findtext(f"{ns}Key") or "").rsplit("/", 1)[-1]
                modified = item.findtext(f"{ns}LastModified") or ""
                if SHA_RE.fullmatch(name) and _epoch(modified) < cutoff:
                    found.append(name)
            if found:
                yield found
            token = root.findtext(f"{ns}NextContinuationToken")
            if (root.findtext(f"{ns}IsTruncated") or "false") != "true" or not token:
                return


def _epoch(iso: str) -> float:
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return time.time()  # unreadable: treat as new (never swept by mistake)


# ============================================================================ the configured store


def store_from_url(url: str, *, access_key: str = "", secret_key: str = "", data_dir: Path | None = None) -> Store:
    """``file:///abs/path`` (or a bare path, relative to ``data_dir``) or ``s3://bucket/prefix?endpoint=…&region=…``."""
    if not url:
        return FileStore((data_dir or Path("var").resolve()) / "photos")
    parts = urlsplit(url)
    if parts.scheme == "s3":
        q = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        endpoint = q.get("endpoint", "")
        if not parts.netloc or not endpoint.startswith(("http://", "https://")):
            raise SystemExit("SMZ_PHOTO_STORE: s3://bucket/prefix?endpoint=http(s)://host:port&region=… "
                             "/ 照片存储地址格式错误")
        if not access_key or not secret_key:
            raise SystemExit("SMZ_PHOTO_STORE_ACCESS_KEY / SMZ_PHOTO_STORE_SECRET_KEY are required for s3:// "
                             "/ 对象存储需要访问密钥")
        return S3Store(endpoint=endpoint.rstrip("/"), bucket=parts.netloc, prefix=parts.path.strip("/"),
                       region=q.get("region", "us-east-1"), access_key=access_key, secret_key=secret_key)
    if parts.scheme == "file":
        return FileStore(Path(parts.path))
    if parts.scheme:
        raise SystemExit(f"SMZ_PHOTO_STORE: unknown scheme {parts.scheme!r} / 不支持的照片存储类型")
    path = Path(url)
    return FileStore(path if path.is_absolute() or data_dir is None else (data_dir / path).resolve())


def store() -> Store:
    """The store of the settings: one per configuration (it keeps no connection or thread; a file store keeps the
    folders it knows exist)."""
    s = get_settings()
    return _store_for(s.photo_store, s.photo_store_access_key, s.photo_store_secret_key, s.data_dir)


@functools.lru_cache(maxsize=8)
def _store_for(url: str, access_key: str, secret_key: str, data_dir: Path | None) -> Store:
    return store_from_url(url, access_key=access_key, secret_key=secret_key, data_dir=data_dir)


async def put_many(items: Sequence[tuple[bytes, str]]) -> list[str]:
    """Store every photo durably; their hashes, in order.  Identical bytes are one file, written once."""
    if not items:
        return []
    return await store().put_many(items)


async def put_packed(items: Sequence[tuple[bytes, str]]) -> list[tuple[str, str | None]]:
    """Store every photo durably, all of them in one pack file on the file store (the gate's batches); (hash,
    location) per photo, in order — the location None where the store keeps loose photos (an object store)."""
    if not items:
        return []
    st = store()
    if isinstance(st, FileStore):
        return list(await st.put_packed([d for d, _ in items]))
    return [(sha, None) for sha in await st.put_many(items)]


def _pack_store() -> FileStore:
    """The configured store, which must be the file store that holds the packs."""
    st = store()
    if not isinstance(st, FileStore):
        raise StoreError("照片在文件存储的打包文件中：更换存储前须先迁移 / the photo is in a file-store pack")
    return st


async def get(sha: str, loc: str | None = None) -> bytes | None:
    """A photo by its hash, from its pack slice when the row gives a location (``punch.photo_loc``)."""
    if loc:
        return await _pack_store().get_packed(check_sha(sha), loc)
    return await store().get(check_sha(sha))


async def discard_pack(name: str) -> None:
    """Delete a pack file that no row names (a batch whose write failed: ``attendance.batching``)."""
    check_loc(f"{name}:0:0")
    st = store()
    if isinstance(st, FileStore):
        await asyncio.to_thread(_unlink_all, [st.root / PACKS / name])


async def release(locs: Iterable[str]) -> int:
    """Free pack slices (retention); their rows no longer name them."""
    todo = sorted(set(locs))
    return await _pack_store().release(todo) if todo else 0


async def exists(sha: str) -> bool:
    return await store().exists(check_sha(sha))


async def delete_many(shas: Iterable[str]) -> int:
    todo = sorted({check_sha(s) for s in shas})
    return await store().delete_many(todo) if todo else 0


def older_than(cutoff: float) -> AsyncIterator[list[str]]:
    return store().older_than(cutoff)
