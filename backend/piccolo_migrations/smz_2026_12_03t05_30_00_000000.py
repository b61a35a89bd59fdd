"""Monthly partitions of ``punch`` on PostgreSQL (issue 18): ``punch`` becomes a table partitioned by RANGE on
``local_date`` (the capture day in the project's zone, 'YYYY-MM-DD'), one partition per month
(``backend.attendance.partitions``) and a DEFAULT one.  SQLite: nothing (one plain table, as before).

Generic over the table's current columns (another migration of the same day added ``photo_sha256``/``photo_type``):
the old table is renamed, the new one made ``LIKE`` it (columns, NOT NULL, defaults — the ``id`` serial keeps its
sequence, which now belongs to the new table — and CHECK constraints), the rows copied, the old table dropped, then
on the parent: the primary key (id, local_date), every UNIQUE constraint with ``local_date`` added to it (a
partitioned table's unique keys must hold the partition key: ``idempotency_key`` is unique per day — a re-sent
punch has the same capture time, hence the same day; docs/deployment.md), the other indexes as they were, and the
foreign keys to project, person and terminal.  Foreign keys that reference ``punch(id)`` (``punch_photo.punch``,
the legacy photo table) are dropped: they would need (id, local_date).  Their columns and indexes stay.

Partitions: one per month from the oldest row's month (not older than ``OLDEST_YEARS``; at least ``BACK_MONTHS``
back) to ``AHEAD_MONTHS`` ahead; rows outside them wait in ``punch_default``.  One transaction (Piccolo wraps the
migration in one): on failure nothing changed.

Backwards: a plain table again (primary key id, the unique keys without local_date)."""

from datetime import date

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

from backend.attendance import partitions as part

ID = "2026-12-03T05:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "punch partitioned by month on PostgreSQL (local_date)"


class _Raw(Table, tablename="punch"):
    pass


async def _q(sql: str, *args: object) -> list[dict]:
    return await _Raw.raw(sql, *args)


async def _shape(table: str) -> dict:
    """Columns, constraints, plain indexes and the id sequence of ``table`` (as SQL text to replay)."""
    cols = [r["attname"] for r in await _q(
        "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass({}) AND attnum > 0 AND NOT attisdropped "
        "ORDER BY attnum", table)]
    cons = await _q(
        "SELECT conname, contype::text AS kind, pg_get_constraintdef(oid) AS def, conindid, "
        "ARRAY(SELECT a.attname FROM unnest(conkey) WITH ORDINALITY AS k(n, o) JOIN pg_attribute a "
        "ON a.attrelid = conrelid AND a.attnum = k.n ORDER BY k.o)::text[] AS cols "
        "FROM pg_constraint WHERE conrelid = to_regclass({}) AND contype IN ('p', 'u', 'f')", table)
    owned = {r["conindid"] for r in cons if r["kind"] in ("p", "u")}
    indexes = [r["def"] for r in await _q(
        "SELECT indexrelid, pg_get_indexdef(indexrelid) AS def FROM pg_index WHERE indrelid = to_regclass({})", table)
        if r["indexrelid"] not in owned]
    seq = (await _q("SELECT pg_get_serial_sequence({}, 'id') AS s", table))[0]["s"]
    refs = await _q("SELECT conrelid::regclass::text AS t, conname FROM pg_constraint "
                    "WHERE confrelid = to_regclass({}) AND contype = 'f'", table)
    return {"cols": cols, "cons": cons, "indexes": indexes, "seq": seq, "refs": refs}


async def _first_month(old: str, today: date) -> tuple[int, int]:
    back = part.shift_month(today.year, today.month, -part.BACK_MONTHS)
    floor = f"{today.year - part.OLDEST_YEARS:04d}-01-01"
    row = (await _q(f"SELECT MIN(local_date) AS d FROM {old} WHERE local_date >= {{}} "
                    "AND local_date LIKE '____-__-__'", floor))[0]
    if row["d"]:
        oldest = (int(row["d"][:4]), int(row["d"][5:7]))
        if 1 <= oldest[1] <= 12:
            return min(oldest, back)
    return back


async def to_partitioned() -> None:
    if not part.on_postgres() or await part.is_partitioned():
        return
    shape = await _shape("punch")
    for ref in shape["refs"]:  # punch_photo.punch → punch(id): cannot stay (the key is now id + local_date)
        await _q(f'ALTER TABLE {ref["t"]} DROP CONSTRAINT "{ref["conname"]}"')
    await _q("ALTER TABLE punch RENAME TO punch_old")
    await _q("CREATE TABLE punch (LIKE punch_old INCLUDING DEFAULTS INCLUDING CONSTRAINTS) "
             "PARTITION BY RANGE (local_date)")
    if shape["seq"]:  # the serial's sequence would go with the old table: it belongs to the new one now
        await _q(f"ALTER SEQUENCE {shape['seq']} OWNED BY punch.id")
    await _q(f'CREATE TABLE "{part.DEFAULT_PARTITION}" PARTITION OF punch DEFAULT')
    today = part.local_today()
    for y, m in part.months_span(await _first_month("punch_old", today),
                                 part.shift_month(today.year, today.month, part.AHEAD_MONTHS)):
        await part.create_month(y, m)
    cols = ", ".join(f'"{c}"' for c in shape["cols"])
    await _q(f"INSERT INTO punch ({cols}) SELECT {cols} FROM punch_old")
    await _q("DROP TABLE punch_old")
    for c in shape["cons"]:  # the names are free again
        if c["kind"] == "f":
            await _q(f'ALTER TABLE punch ADD CONSTRAINT "{c["conname"]}" {c["def"]}')
            continue
        keys = list(c["cols"]) + ([] if "local_date" in c["cols"] else ["local_date"])
        kind = "PRIMARY KEY" if c["kind"] == "p" else "UNIQUE"
        await _q(f'ALTER TABLE punch ADD CONSTRAINT "{c["conname"]}" {kind} ({", ".join(keys)})')
    for sql in shape["indexes"]:  # read before the rename: "… ON public.punch USING …"
        if sql.startswith("CREATE UNIQUE INDEX") and "local_date" not in sql:
            sql = sql[:-1] + ", local_date)" if sql.endswith(")") else sql
        await _q(sql)
    await _q("ANALYZE punch")


async def to_plain() -> None:
    if not part.on_postgres() or not await part.is_partitioned():
        return
    shape = await _shape("punch")
    await _q("ALTER TABLE punch RENAME TO punch_old")
    await _q("CREATE TABLE punch (LIKE punch_old INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
    if shape["seq"]:
        await _q(f"ALTER SEQUENCE {shape['seq']} OWNED BY punch.id")
    cols = ", ".join(f'"{c}"' for c in shape["cols"])
    await _q(f"INSERT INTO punch ({cols}) SELECT {cols} FROM punch_old")
    await _q("DROP TABLE punch_old CASCADE")  # its partitions with it
    for c in shape["cons"]:
        if c["kind"] == "f":
            await _q(f'ALTER TABLE punch ADD CONSTRAINT "{c["conname"]}" {c["def"]}')
            continue
        keys = [k for k in c["cols"] if k != "local_date" or c["cols"] == ["local_date"]]
        kind = "PRIMARY KEY" if c["kind"] == "p" else "UNIQUE"
        await _q(f'ALTER TABLE punch ADD CONSTRAINT "{c["conname"]}" {kind} ({", ".join(keys)})')
    for sql in shape["indexes"]:
        await _q(sql.replace(" ON ONLY ", " ON "))
    if await _q("SELECT 1 FROM pg_class WHERE oid = to_regclass('punch_photo')"):
        await _q("DELETE FROM punch_photo WHERE punch NOT IN (SELECT id FROM punch)")
        await _q("ALTER TABLE punch_photo ADD CONSTRAINT punch_photo_punch_fkey FOREIGN KEY (punch) "
                 "REFERENCES punch(id) ON UPDATE CASCADE ON DELETE CASCADE")


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="smz", description=DESCRIPTION)
    manager.add_raw(to_partitioned)
    manager.add_raw_backwards(to_plain)
    return manager
