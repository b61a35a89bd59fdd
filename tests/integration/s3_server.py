"""A small S3-compatible object server for tests (what backend.photostore.S3Store needs of MinIO): path-style
PUT / GET / HEAD / DELETE of ``/<bucket>/<key>`` and ListObjectsV2 (``GET /<bucket>?list-type=2``), objects kept
in memory with their content type and time.  Every request must carry a valid AWS Signature V4
(``Authorization: AWS4-HMAC-SHA256 …``): the server rebuilds the canonical request from what it received — method,
raw path, query, the signed headers' values — checks the payload hash against the body and the date scope, and
answers 403 ``SignatureDoesNotMatch`` otherwise, as S3 does.

    async with running_s3(access_key="AK", secret_key="SK") as s3:   # s3.endpoint, s3.objects, s3.requests
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

from aiohttp import web

from backend.photostore import canonical_request, signature

_AUTH = re.compile(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/s3/aws4_request,\s*"
                   r"SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})")


@dataclass
class Obj:
    data: bytes
    content_type: str
    modified: datetime


@dataclass
class S3Server:
    access_key: str
    secret_key: str
    region: str = "us-east-1"
    bucket: str = "photos"
    objects: dict[str, Obj] = field(default_factory=dict)  # key → object
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path) of accepted requests
    refused: int = 0
    endpoint: str = ""

    def _error(self, status: int, code: str) -> web.Response:
        return web.Response(status=status, content_type="application/xml",
                            text=f"<?xml version=\"1.0\"?><Error><Code>{code}</Code></Error>")

    def _verify(self, request: web.Request, body: bytes) -> str | None:
        """None if the signature holds, else the S3 error code."""
        m = _AUTH.fullmatch(request.headers.get("Authorization", ""))
        if not m:
            return "AccessDenied"
        access, day, region, signed, sig = m.groups()
        if access != self.access_key:
            return "InvalidAccessKeyId"
        amz_date = request.headers.get("x-amz-date", "")
        if region != self.region or amz_date[:8] != day:
            return "SignatureDoesNotMatch"
        payload = request.headers.get("x-amz-content-sha256", "")
        if payload != hashlib.sha256(body).hexdigest():
            return "XAmzContentSHA256Mismatch"
        names = signed.split(";")
        if not {"host", "x-amz-date", "x-amz-content-sha256"} <= set(names):
            return "SignatureDoesNotMatch"
        if request.method == "PUT" and "content-type" not in names:
            return "SignatureDoesNotMatch"  # ours always signs the stored content type
        headers = {n: request.headers.get(n, "") for n in names}
        raw = urlsplit(request.raw_path)
        query = dict(parse_qsl(raw.query, keep_blank_values=True))
        creq, _ = canonical_request(request.method, raw.path, query, headers, payload)
        if not hmac.compare_digest(signature(self.secret_key, amz_date, region, "s3", creq), sig):
            return "SignatureDoesNotMatch"
        return None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        problem = self._verify(request, body)
        if problem:
            self.refused += 1
            return self._error(403, problem)
        self.requests.append((request.method, request.path))
        bucket, _, key = request.path.lstrip("/").partition("/")
        if bucket != self.bucket:
            return self._error(404, "NoSuchBucket")
        if not key:
            if request.method == "GET" and request.query.get("list-type") == "2":
                return self._list(request.query.get("prefix", ""))
            return self._error(400, "InvalidRequest")
        if request.method == "PUT":
            self.objects[key] = Obj(body, request.headers.get("Content-Type", "binary/octet-stream"),
                                    datetime.now(UTC))
            return web.Response(status=200, headers={"ETag": f'"{hashlib.md5(body).hexdigest()}"'})
        obj = self.objects.get(key)
        if request.method == "DELETE":
            self.objects.pop(key, None)
            return web.Response(status=204)
        if obj is None:
            return self._error(404, "NoSuchKey") if request.method == "GET" else web.Response(status=404)
        if request.method == "HEAD":
            return web.Response(status=200, headers={"Content-Type": obj.content_type,
                                                     "Content-Length": str(len(obj.data))})
        if request.method == "GET":
            return web.Response(status=200, body=obj.data, headers={"Content-Type": obj.content_type})
        return self._error(405, "MethodNotAllowed")

    def _list(self, prefix: str) -> web.Response:
        items = "".join(
            f"<Contents><Key>{k}</Key><LastModified>{o.modified.strftime('%Y-%m-%dT%H:%M:%S.000Z')}</LastModified>"
            f"<Size>{len(o.data)}</Size></Contents>"
            for k, o in sorted(self.objects.items()) if k.startswith(prefix))
        return web.Response(status=200, content_type="application/xml", text=(
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            f"<Name>{self.bucket}</Name><Prefix>{prefix}</Prefix><IsTruncated>false</IsTruncated>{items}"
            "</ListBucketResult>"))


@asynccontextmanager
async def running_s3(*, access_key: str = "test-access", secret_key: str = "test-secret/key+1",
                     region: str = "us-east-1", bucket: str = "photos") -> AsyncIterator[S3Server]:
    server = S3Server(access_key, secret_key, region, bucket)
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    server.endpoint = f"http://127.0.0.1:{port}"
    try:
        yield server
    finally:
        await runner.cleanup()
