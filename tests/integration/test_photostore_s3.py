"""The S3-compatible photo store (backend.photostore.S3Store; issue 18: MinIO on premises) against a local server
that speaks the S3 object API and checks every request's AWS Signature V4 (tests/integration/s3_server.py): PUT,
GET, HEAD, DELETE and ListObjectsV2, the content type kept, identical bytes one object, and a wrong secret refused."""

from __future__ import annotations

import asyncio
import hashlib
import time

import pytest

from backend.photostore import S3Store, StoreError, store_from_url
from tests.integration.s3_server import running_s3

pytestmark = pytest.mark.integration

JPEG = b"\xff\xd8\xff\xe0" + b"punch-photo" * 600
PNG = b"\x89PNG\r\n\x1a\n" + b"other" * 100


def _store(s3, *, secret: str | None = None, prefix: str = "smz/photos") -> S3Store:
    store = store_from_url(f"s3://{s3.bucket}/{prefix}?endpoint={s3.endpoint}&region={s3.region}",
                           access_key=s3.access_key, secret_key=secret or s3.secret_key)
    assert isinstance(store, S3Store)
    return store


async def test_put_get_head_delete_through_signed_requests_keep_the_content_type():
    async with running_s3() as s3:
        store = _store(s3)
        shas = await store.put_many([(JPEG, "image/jpeg"), (PNG, "image/png"), (JPEG, "image/jpeg")])
        assert shas == [hashlib.sha256(JPEG).hexdigest(), hashlib.sha256(PNG).hexdigest(), shas[0]]
        key = f"smz/photos/{shas[0][:2]}/{shas[0][2:4]}/{shas[0]}"
        assert set(s3.objects) == {key, f"smz/photos/{shas[1][:2]}/{shas[1][2:4]}/{shas[1]}"}
        assert [m for m, _ in s3.requests].count("PUT") == 2  # the same bytes: one object, one PUT
        assert s3.objects[key].content_type == "image/jpeg"
        assert await store.content_type(shas[1]) == "image/png"
        assert await store.get(shas[0]) == JPEG
        assert await store.exists(shas[1]) and not await store.exists("0" * 64)
        assert await store.get("0" * 64) is None
        assert await store.delete_many([shas[0]]) == 1
        assert await store.get(shas[0]) is None and await store.get(shas[1]) == PNG
        assert s3.refused == 0


async def test_list_finds_objects_older_than_the_cutoff_only():
    async with running_s3() as s3:
        store = _store(s3)
        [sha] = await store.put_many([(JPEG, "image/jpeg")])
        assert [x async for x in store.older_than(time.time() - 3600)] == []
        found = [s async for chunk in store.older_than(time.time() + 5) for s in chunk]
        assert found == [sha]


async def test_a_wrong_secret_is_refused_by_the_signature_check_and_nothing_is_stored():
    async with running_s3() as s3:
        store = _store(s3, secret="not-the-secret")
        with pytest.raises(StoreError, match="403"):
            await store.put_many([(JPEG, "image/jpeg")])
        with pytest.raises(StoreError, match="403"):
            await store.get(hashlib.sha256(JPEG).hexdigest())
        assert s3.objects == {} and s3.refused == 2


async def test_an_empty_prefix_puts_objects_at_the_bucket_root():
    async with running_s3() as s3:
        store = _store(s3, prefix="")
        [sha] = await store.put_many([(PNG, "image/png")])
        assert list(s3.objects) == [f"{sha[:2]}/{sha[2:4]}/{sha}"]


async def test_with_smz_photo_store_s3_a_punch_photo_goes_to_the_object_store_and_back(world, monkeypatch):
    """The configuration end to end: SMZ_PHOTO_STORE=s3://… and its keys → a punch's photo is an object in the
    bucket, the punch row holds its hash, and the app reads it back from there."""
    from datetime import UTC, datetime, timedelta

    from backend.attendance.services import PunchIn, punch_photo, record_punch
    from backend.attendance.tables import Punch
    from backend.settings import get_settings
    from backend.workforce import services as workforce
    from tests.integration.conftest import unique_name

    person = await workforce.upsert_person(id_number=world.id_number(), name=unique_name("工人"))
    async with running_s3() as s3:
        monkeypatch.setenv("SMZ_PHOTO_STORE", f"s3://{s3.bucket}/smz?endpoint={s3.endpoint}&region={s3.region}")
        monkeypatch.setenv("SMZ_PHOTO_STORE_ACCESS_KEY", s3.access_key)
        monkeypatch.setenv("SMZ_PHOTO_STORE_SECRET_KEY", s3.secret_key)
        get_settings.cache_clear()
        try:
            now = datetime.now(UTC)
            v = await record_punch(PunchIn(source="makeup", project_id=world.project_a, person_id=person,
                                           idempotency_key=f"s3-{person}", captured_at=now - timedelta(hours=1),
                                           received_at=now, photo=JPEG, photo_type="image/jpeg"))
            row = await Punch.select(Punch.photo_sha256, Punch.photo_type).where(Punch.id == v.punch_id).first()
            sha = hashlib.sha256(JPEG).hexdigest()
            assert row == {"photo_sha256": sha, "photo_type": "image/jpeg"}
            assert f"smz/{sha[:2]}/{sha[2:4]}/{sha}" in s3.objects
            assert await punch_photo(v.punch_id) == (JPEG, "image/jpeg")
        finally:
            monkeypatch.undo()
            get_settings.cache_clear()


async def test_a_photo_store_refusing_the_photos_fails_the_gate_batch_and_stores_no_punch(world, monkeypatch):
    """Photos are written before the punches' transaction: when the store refuses them (here a wrong secret), the
    batch fails whole — no row, no acknowledgement — and the terminal's resend is stored once it works again."""
    import uuid
    from datetime import UTC, datetime, timedelta

    from backend.attendance.batching import PunchBatcher
    from backend.attendance.services import PunchIn, punch_photo
    from backend.attendance.tables import Punch
    from backend.settings import get_settings

    def config(s3, secret: str) -> None:
        monkeypatch.setenv("SMZ_PHOTO_STORE", f"s3://{s3.bucket}/gate?endpoint={s3.endpoint}&region={s3.region}")
        monkeypatch.setenv("SMZ_PHOTO_STORE_ACCESS_KEY", s3.access_key)
        monkeypatch.setenv("SMZ_PHOTO_STORE_SECRET_KEY", secret)
        get_settings.cache_clear()

    now = datetime.now(UTC)
    punches = [PunchIn(source="gate", project_id=world.project_a, person_id=None, direction="in",
                       idempotency_key=f"g:s3:{uuid.uuid4().hex}", captured_at=now - timedelta(seconds=1),
                       received_at=now, photo=JPEG[:-1] + bytes([i])) for i in range(3)]
    async with running_s3() as s3:
        try:
            config(s3, "wrong-secret")
            batcher = PunchBatcher(max_rows=10, wait_ms=20)
            results = await asyncio.gather(*(batcher.submit(p) for p in punches), return_exceptions=True)
            assert all(isinstance(r, StoreError) for r in results), results
            keys = [p.idempotency_key for p in punches]
            assert await Punch.count().where(Punch.idempotency_key.is_in(keys)) == 0 and s3.objects == {}
            config(s3, s3.secret_key)
            again = await asyncio.gather(*(batcher.submit(p) for p in punches))
            await batcher.close()
            assert await Punch.count().where(Punch.idempotency_key.is_in(keys)) == 3 and len(s3.objects) == 3
            for p, v in zip(punches, again, strict=True):
                assert await punch_photo(v.punch_id) == (p.photo, "image/jpeg")
        finally:
            monkeypatch.undo()
            get_settings.cache_clear()
