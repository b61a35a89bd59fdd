"""Gate security (2/2): the vendor code is a credential.  Each existing plaintext ``vendor.code`` is
replaced by its keyed hash in ``vendor.code_hash`` (``backend.crypto.keyed_hash``, purpose
"vendor-code": terminals keep logging in with the code they have), and the plaintext is overwritten
with a random non-secret placeholder — the column stays because SQLite cannot drop a UNIQUE column.
A unique index on ``code_hash``.  Plain SQL that SQLite and PostgreSQL both run.

Backwards: only the index goes; the plaintext codes are gone for good (rotate to get new ones)."""

import secrets

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-12-02T09:10:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "vendor codes: keyed hash only, plaintext blanked"

VENDOR_CODE_PURPOSE = "vendor-code"  # the same as backend.devices.services.VENDOR_CODE_PURPOSE


class _Raw(Table, tablename="vendor"):
    pass


def placeholder() -> str:
    """What ``vendor.code`` holds from now on: unique, random, and never a valid code (the code
    alphabet has no '-')."""
    return "-" + secrets.token_hex(15)


async def hash_plaintext_codes() -> int:
    """Hash and blank every vendor code still in plaintext; returns how many."""
    from backend.crypto import keyed_hash

    rows = await _Raw.raw("SELECT id, code FROM vendor WHERE code_hash IS NULL")
    for row in rows:
        await _Raw.raw("UPDATE vendor SET code_hash = {}, code = {} WHERE id = {}",
                       keyed_hash(row["code"], VENDOR_CODE_PURPOSE), placeholder(), row["id"])
    return len(rows)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="smz", description=DESCRIPTION)

    async def run() -> None:
        await hash_plaintext_codes()
        await _Raw.raw("CREATE UNIQUE INDEX IF NOT EXISTS vendor_code_hash_uniq ON vendor (code_hash)")

    async def run_backwards() -> None:
        await _Raw.raw("DROP INDEX IF EXISTS vendor_code_hash_uniq")

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)
    return manager
