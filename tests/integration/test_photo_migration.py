"""``smz photos migrate`` / ``sweep`` (backend.attendance.photo_migration; issue 18): legacy ``punch_photo`` rows move
into the photo store in batches, each batch its own transaction — a crash mid-run leaves every batch done or not and
the next run finishes the job; a second run does nothing — and the sweep finds the files no punch holds."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from backend import photostore
from backend.attendance import photo_migration
from backend.attendance.services import punch_photo
from backend.attendance.tables import Punch, PunchPhoto
from backend.photostore import FileStore, sha256_hex
from tests.integration.conftest import unique_name

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def own_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FileStore:
    """This module's photo store alone (the sweep must not see other modules' files)."""
    store = FileStore(tmp_path / "photos")
    monkeypatch.setattr(photostore, "store", lambda: store)
    return store


async def _person(world) -> int:
    from backend.workforce import services as workforce

    return await workforce.upsert_person(id_number=world.id_number(), name=unique_name("工人"))


async def _legacy_punch(world, person: int, photo: bytes | None, content_type: str = "image/jpeg", *,
                        sha: str | None = None) -> int:
    at = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
    punch = Punch(project=world.project_a, person=person, source="gate", idempotency_key=uuid.uuid4().hex,
                  captured_at=at, received_at=at, latency_s=0.2, local_date="2026-11-20", verdict="accepted",
                  photo_sha256=sha, photo_type="image/jpeg" if sha else None)
    await punch.save()
    if photo is not None:
        await PunchPhoto(punch=punch.id, data=photo, content_type=content_type).save()
    return int(punch.id)


async def test_legacy_rows_move_to_the_store_in_batches_and_a_second_run_is_a_no_op(world):
    person = await _person(world)
    photos = [b"\xff\xd8legacy-%d" % i * 40 for i in range(4)] + [b"\xff\xd8legacy-0" * 40]  # last: same as first
    ids = [await _legacy_punch(world, person, p) for p in photos]
    png = await _legacy_punch(world, person, b"\x89PNG-legacy" * 30, "image/png")
    # a punch holding a hash already: its stale legacy row is dropped, its hash kept
    [newer] = await photostore.put_many([(b"newer-photo", "image/jpeg")])
    holder = await _legacy_punch(world, person, b"stale-legacy", sha=newer)
    total = await PunchPhoto.count()
    assert total >= 7

    dry = await photo_migration.migrate(dry_run=True)
    assert (dry.total, dry.moved) == (total, 0) and await PunchPhoto.count() == total

    seen: list[tuple[int, int]] = []
    report = await photo_migration.migrate(batch=3, progress=lambda n, t: seen.append((n, t)))

    assert report.moved == total and await PunchPhoto.count() == 0
    assert seen[-1] == (total, total) and [n for n, _ in seen] == sorted(n for n, _ in seen)
    assert len(seen) == -(-total // 3)  # one transaction (and one progress line) per batch of 3
    for pid, photo in zip(ids, photos, strict=True):
        row = await Punch.select(Punch.photo_sha256, Punch.photo_type).where(Punch.id == pid).first()
        assert row == {"photo_sha256": sha256_hex(photo), "photo_type": "image/jpeg"}
        assert await punch_photo(pid) == (photo, "image/jpeg")
    assert await punch_photo(png) == (b"\x89PNG-legacy" * 30, "image/png")
    assert await punch_photo(holder) == (b"newer-photo", "image/jpeg")

    again = await photo_migration.migrate(batch=3)
    assert (again.total, again.moved) == (0, 0)


async def test_a_crash_mid_migration_loses_nothing_and_the_next_run_finishes(world, monkeypatch):
    person = await _person(world)
    photos = {await _legacy_punch(world, person, b"\xff\xd8crash-%d" % i * 40): b"\xff\xd8crash-%d" % i * 40
              for i in range(5)}
    total = await PunchPhoto.count()
    real = photo_migration._set_hashes
    calls = 0

    async def power_cut(items):
        nonlocal calls
        calls += 1
        if calls == 2:  # the second batch: its photos are in the store, its transaction never commits
            await real(items)
            raise RuntimeError("power cut")
        await real(items)

    monkeypatch.setattr(photo_migration, "_set_hashes", power_cut)
    with pytest.raises(RuntimeError):
        await photo_migration.migrate(batch=2)
    monkeypatch.setattr(photo_migration, "_set_hashes", real)  # (not undo(): that would drop own_store too)
    assert await PunchPhoto.count() == total - 2  # the first batch only
    for pid, photo in photos.items():  # every photo still readable: from the store or from its legacy row
        assert await punch_photo(pid) == (photo, "image/jpeg")
    moved = await Punch.count().where(Punch.id.is_in(list(photos)) & Punch.photo_sha256.is_not_null())
    assert moved == min(2, len(photos))  # the rolled-back batch set no hash

    report = await photo_migration.migrate(batch=2)
    assert report.moved == total - 2 and await PunchPhoto.count() == 0
    for pid, photo in photos.items():
        assert await punch_photo(pid) == (photo, "image/jpeg")
    assert (await photo_migration.migrate()).moved == 0


async def test_sweep_reports_then_deletes_old_files_no_punch_holds(world, own_store: FileStore):
    person = await _person(world)
    held, orphan, fresh = b"held-by-a-punch", b"left-by-a-failed-batch", b"being-written-now"
    sha_held, sha_orphan, sha_fresh = await photostore.put_many(
        [(held, "image/jpeg"), (orphan, "image/jpeg"), (fresh, "image/jpeg")])
    await _legacy_punch(world, person, None, sha=sha_held)
    old = time.time() - 2 * 3600
    for sha in (sha_held, sha_orphan):
        os.utime(own_store.path(sha), (old, old))

    dry = await photo_migration.sweep()
    assert (dry.checked, dry.orphans, dry.deleted) == (2, 1, 0)
    assert await photostore.exists(sha_orphan)

    done = await photo_migration.sweep(delete=True)
    assert (done.orphans, done.deleted) == (1, 1)
    assert not await photostore.exists(sha_orphan)
    assert await photostore.exists(sha_held) and await photostore.exists(sha_fresh)  # held; under an hour old


@pytest.mark.skipif(bool(os.environ.get("SMZ_TEST_DATABASE_URL")), reason="the command on its own SQLite file")
def test_smz_photos_commands_run_and_print_progress_in_chinese(tmp_path: Path) -> None:
    env = {**os.environ, "SMZ_DATA_DIR": str(tmp_path), "SMZ_DATABASE_URL": f"sqlite:///{tmp_path}/smz.db",
           "SMZ_PHOTO_STORE": f"file://{tmp_path}/photos"}

    def smz(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "backend.cli", *args], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout.replace("\n", "")

    assert "待迁移 0 张打卡照片" in smz("photos", "migrate", "--dry-run")
    assert "已迁移 0 张打卡照片" in smz("photos", "migrate")
    assert "检查 0 个照片文件" in smz("photos", "sweep")
