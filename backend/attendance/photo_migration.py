"""Punch photos from the legacy ``punch_photo`` table into the photo store (issue 18), and the sweep of orphan files
(``smz photos migrate`` / ``smz photos sweep``).

``migrate``: in batches of ``BATCH`` legacy rows (oldest id first): read → ``photostore.put_many`` (durable) → in
ONE transaction, set ``punch.photo_sha256`` / ``photo_type`` and delete the legacy rows.  A crash leaves each
batch either done or not (its files then exist already and are simply written again by the next run, same hash);
a second run finds nothing and does nothing.  A punch that already holds a hash keeps it (its legacy row is only
deleted).  Safe while the app serves: new punches never write ``punch_photo`` any more.

``sweep``: files of the store last written more than ``min_age_s`` ago (default an hour) that no punch holds —
left by a batch whose transaction failed after its photos were stored, or by a retention run stopped between
clearing the hashes and deleting the files.  Reports by default; deletes only with ``delete=True``.  The hour
keeps it away from photos being written: a write of bytes already stored refreshes the file's time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from backend import photostore
from backend.attendance.tables import Punch, PunchPhoto
from backend.db import write_transaction

BATCH = 500
SWEEP_MIN_AGE_S = 3600.0


@dataclass
class MigrationReport:
    total: int  # legacy rows when the run started
    moved: int = 0
    dry_run: bool = False


@dataclass
class SweepReport:
    checked: int = 0  # files old enough to be considered
    orphans: int = 0  # of them, held by no punch
    deleted: int = 0


async def legacy_count() -> int:
    return await PunchPhoto.count()


async def migrate(*, batch: int = BATCH, dry_run: bool = False,
                  progress: Callable[[int, int], None] | None = None) -> MigrationReport:
    report = MigrationReport(total=await legacy_count(), dry_run=dry_run)
    if dry_run:
        return report
    while True:
        rows = await PunchPhoto.select(PunchPhoto.id, PunchPhoto.punch, PunchPhoto.content_type,
                                       PunchPhoto.data).order_by(PunchPhoto.id).limit(batch)
        if not rows:
            return report
        types = [r["content_type"] or photostore.DEFAULT_TYPE for r in rows]
        shas = await photostore.put_many([(bytes(r["data"]), t) for r, t in zip(rows, types, strict=True)])
        async with write_transaction():
            await _set_hashes([(r["punch"], sha, t) for r, sha, t in zip(rows, shas, types, strict=True)])
            await PunchPhoto.delete().where(PunchPhoto.id.is_in([r["id"] for r in rows]))
        report.moved += len(rows)
        if progress is not None:
            progress(report.moved, max(report.total, report.moved))


async def _set_hashes(items: Sequence[tuple[int, str, str]]) -> None:
    """One UPDATE for the batch (SQLite and PostgreSQL): each punch's hash and type, unless it holds one already."""
    cases = " ".join("WHEN {} THEN {}" for _ in items)
    args: list[object] = [v for punch, sha, _ in items for v in (punch, sha)]
    args += [v for punch, _, ctype in items for v in (punch, ctype)]
    args += [punch for punch, _, _ in items]
    await Punch.raw(
        f"UPDATE punch SET photo_sha256 = CASE id {cases} END, photo_type = CASE id {cases} END "
        f"WHERE id IN ({', '.join('{}' for _ in items)}) AND photo_sha256 IS NULL", *args)


async def sweep(*, min_age_s: float = SWEEP_MIN_AGE_S, delete: bool = False, batch: int = BATCH) -> SweepReport:
    report = SweepReport()
    cutoff = time.time() - max(0.0, min_age_s)
    async for found in photostore.older_than(cutoff):
        for i in range(0, len(found), batch):
            chunk = found[i:i + batch]
            report.checked += len(chunk)
            held = {r["photo_sha256"] for r in await Punch.select(Punch.photo_sha256).where(
                Punch.photo_sha256.is_in(chunk))}
            orphans = [sha for sha in chunk if sha not in held]
            report.orphans += len(orphans)
            if delete and orphans:
                report.deleted += await photostore.delete_many(orphans)
    return report
