"""Key rotation without downtime (issue 20 B.5; ``smz rotate-key``; docs/security.md "Key rotation").

The key ring lives in ``backend.crypto``: ``SMZ_SECRET_KEY`` (current: every new ciphertext, every new look-up
hash) and ``SMZ_OLD_SECRET_KEYS`` (read only).  Once every app process runs with the new ring, ``rotate_key``
walks every encrypted column in id order, in batches, and re-encrypts each value that is not under the current
key; for people it also re-computes the ID look-up hash (``person.id_hash``).  Each row is written with a
compare-and-set (``WHERE id = ? AND column = <the value read>``): a row the app changed meanwhile is left alone
(its new value is already under the current key).  The app keeps serving throughout: decryption picks the key by
the token's key id, and searches by ID number match a hash under any key of the ring
(``backend.crypto.lookup_hashes``).  ``check`` counts what is still under an old key; when it reports nothing
the old key can be removed from ``SMZ_OLD_SECRET_KEYS``.

Vendor codes (``vendor.code_hash``, ``keyed_hash`` purpose "vendor-code") cannot be re-hashed: only the hash is
stored.  They keep working while the old key is in the ring (``devices.services.vendor_code_matches`` tries every
key); ``check`` lists the vendors whose code was issued before the rotation started — re-issue their codes
(``smz vendor-code``) or keep the old key listed until then (it is then only used for those hashes).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from piccolo.columns import Column
from piccolo.table import Table

from backend.crypto import current_key_id, decrypt_text, encrypt_text, lookup_hash, old_key_ids, token_key_id
from backend.db import write_transaction
from backend.devices.tables import Vendor
from backend.platform.services import SECRET_AAD
from backend.platform.tables import PlatformCredential
from backend.privacy.tables import KeyRotation
from backend.wages.accounts import ACCOUNT_AAD
from backend.wages.payroll import CARD_AAD
from backend.wages.tables import PayrollLine, WageAccount
from backend.workforce.tables import Person

log = logging.getLogger("smz.privacy.rotate")

BATCH = 200
ID_AAD = b"id_number"


@dataclass(frozen=True)
class EncryptedColumn:
    """One encrypted column: its table, column, AES-GCM associated data and a label."""

    table: type[Table]
    column: Column
    aad: bytes
    label: str


def encrypted_columns() -> list[EncryptedColumn]:
    """Every column holding ``backend.crypto.encrypt_text`` output (grep encrypt_text when adding one)."""
    return [
        EncryptedColumn(Person, Person.id_cipher, ID_AAD, "身份证号 person.id_cipher"),
        EncryptedColumn(WageAccount, WageAccount.account_no_enc, ACCOUNT_AAD, "工资专用账户 wage_account.account_no_enc"),
        EncryptedColumn(PayrollLine, PayrollLine.card_enc, CARD_AAD, "银行卡号 payroll_line.card_enc"),
        EncryptedColumn(PlatformCredential, PlatformCredential.secret_cipher, SECRET_AAD,
                        "平台密钥 platform_credential.secret_cipher"),
    ]


@dataclass
class ColumnReport:
    label: str
    rows: int = 0  # rows looked at
    old_key: int = 0  # ciphertexts under an old or legacy key (check) / re-encrypted (rotate)
    old_hash: int = 0  # people whose look-up hash is not under the current key (check) / re-hashed (rotate)
    skipped: int = 0  # changed by the app meanwhile (rotate) — already under the current key
    errors: list[str] = field(default_factory=list)


@dataclass
class RotationReport:
    key_id: str
    columns: list[ColumnReport]
    vendors_to_reissue: list[int] = field(default_factory=list)

    @property
    def left(self) -> int:
        return sum(c.old_key + c.old_hash for c in self.columns)


def _is_current(token: str, kid: str) -> bool:
    found = token_key_id(token or "")
    return found == "" or found == kid  # "" = empty or masked: no key at all


async def _walk(col: EncryptedColumn, batch: int, handle: Callable[[list[dict[str, Any]]], Any]) -> None:
    table, name = col.table, col.column._meta.name
    extra = [Person.id_hash] if table is Person else []
    last = 0
    while True:
        rows = await table.select(table._meta.primary_key, col.column, *extra).where(
            table._meta.primary_key > last).order_by(table._meta.primary_key).limit(batch)
        if not rows:
            return
        last = rows[-1]["id"]
        await handle([{"id": r["id"], "token": r[name] or "", "hash": r.get("id_hash")} for r in rows])


async def check(*, batch: int = 1000) -> RotationReport:
    """What is still under an old key: ciphertexts, people's look-up hashes, vendor codes to re-issue."""
    kid = current_key_id()
    out = RotationReport(kid, [])
    for col in encrypted_columns():
        rep = ColumnReport(col.label)
        out.columns.append(rep)

        async def count(rows: list[dict[str, Any]], col: EncryptedColumn = col, rep: ColumnReport = rep) -> None:
            for r in rows:
                rep.rows += 1
                if not _is_current(r["token"], kid):
                    rep.old_key += 1
                if col.table is Person and token_key_id(r["token"]) != "":
                    try:
                        if r["hash"] != lookup_hash(decrypt_text(r["token"], aad=col.aad)):
                            rep.old_hash += 1
                    except Exception as exc:  # an undecryptable row: a key missing from the ring
                        rep.errors.append(f"{r['id']}: {type(exc).__name__}")

        await _walk(col, batch, count)
    out.vendors_to_reissue = await vendors_to_reissue()
    return out


async def vendors_to_reissue() -> list[int]:
    """Vendors whose code hash may be under an old key: issued before the first rotation to the current key
    (never rotated = issued before).  Without any rotation to the current key from an old one: none (a run that only
    re-wrote legacy tokens under the same key changes no vendor's key)."""
    first = await KeyRotation.select(KeyRotation.started_at).where(
        (KeyRotation.key_id == current_key_id()) & (KeyRotation.old_key_ids != "")).order_by(KeyRotation.id).first()
    if first is None:
        return []
    rows = await Vendor.select(Vendor.id).where(
        Vendor.code_hash.is_not_null()
        & (Vendor.code_rotated_at.is_null() | (Vendor.code_rotated_at < first["started_at"]))).order_by(Vendor.id)
    return [r["id"] for r in rows]


async def rotate_key(*, batch: int = BATCH) -> RotationReport:
    """Re-encrypt every ciphertext not under the current key and re-hash people's look-up hashes, in batches of
    short write transactions; logged in ``key_rotation``.  Safe to run again (and after a crash: it resumes by
    finding what is left)."""
    kid = current_key_id()
    run = KeyRotation(key_id=kid, old_key_ids=",".join(old_key_ids()))
    await run.save()
    out = RotationReport(kid, [])
    for col in encrypted_columns():
        rep = ColumnReport(col.label)
        out.columns.append(rep)

        async def rewrite(rows: list[dict[str, Any]], col: EncryptedColumn = col, rep: ColumnReport = rep) -> None:
            changes: list[tuple[int, str, str, str | None, str | None]] = []  # id, old token, new token, old/new hash
            for r in rows:
                rep.rows += 1
                token = r["token"]
                if token_key_id(token) == "":
                    continue  # empty or masked
                try:
                    plain = decrypt_text(token, aad=col.aad)
                except Exception as exc:
                    rep.errors.append(f"{r['id']}: {type(exc).__name__}")
                    continue
                new_token = token if _is_current(token, kid) else encrypt_text(plain, aad=col.aad)
                new_hash = lookup_hash(plain) if col.table is Person else None
                if new_token != token or (new_hash is not None and new_hash != r["hash"]):
                    changes.append((r["id"], token, new_token, r["hash"], new_hash))
            if changes:
                await _write(col, changes, rep, run.id)

        await _walk(col, batch, rewrite)
    out.vendors_to_reissue = await vendors_to_reissue()
    await KeyRotation.update({KeyRotation.status: "done", KeyRotation.finished_at: datetime.now(UTC)}).where(
        KeyRotation.id == run.id)
    return out


Change = tuple[int, str, str, str | None, str | None]  # id, token read, new token, hash read, new hash


async def _write(col: EncryptedColumn, changes: list[Change], rep: ColumnReport, run_id: int) -> None:
    """One batch in one short transaction; if it fails (a unique look-up hash taken by a duplicate person made
    meanwhile), row by row, reporting the rows that cannot be written and going on."""
    skipped = rep.skipped
    try:
        async with write_transaction():
            counts = await _write_rows(col, changes, rep, run_id)
    except Exception:
        log.warning("rotate-key: a batch of %s failed; retrying row by row", col.label, exc_info=True)
        counts, rep.skipped = (0, 0), skipped
        for change in changes:
            try:
                async with write_transaction():
                    done = await _write_rows(col, [change], rep, run_id)
            except Exception as exc:  # e.g. the new hash is another person's: a duplicate to merge by hand
                rep.errors.append(f"{change[0]}: {type(exc).__name__}")
                continue
            counts = (counts[0] + done[0], counts[1] + done[1])
    rep.old_key += counts[0]
    rep.old_hash += counts[1]


async def _write_rows(col: EncryptedColumn, changes: list[Change], rep: ColumnReport, run_id: int) -> tuple[int, int]:
    table, column = col.table, col.column
    reencrypted = rehashed = 0
    for pk, old, new, old_hash, new_hash in changes:
        values: dict[Any, Any] = {column: new}
        cond = (table._meta.primary_key == pk) & (column == old)
        if new_hash is not None and new_hash != old_hash:
            values[Person.id_hash] = new_hash
            cond = cond & (Person.id_hash == old_hash)
        done = await table.update(values).where(cond).returning(table._meta.primary_key)
        if not done:
            rep.skipped += 1  # the app changed the row meanwhile: its new value is under the current key
            continue
        reencrypted += new != old
        rehashed += Person.id_hash in values
    await KeyRotation.update({KeyRotation.reencrypted: KeyRotation.reencrypted + reencrypted,
                              KeyRotation.rehashed: KeyRotation.rehashed + rehashed}).where(KeyRotation.id == run_id)
    return reencrypted, rehashed


def report_lines(rep: RotationReport, *, checking: bool) -> list[str]:
    what = ("仍在旧密钥下", "旧查找哈希") if checking else ("已重新加密", "已重算查找哈希")
    lines = [f"当前密钥编号 / current key id: {rep.key_id}"]
    for c in rep.columns:
        line = f"{c.label}: {c.rows} 行，{what[0]} {c.old_key}"
        if c.label.startswith("身份证号"):
            line += f"，{what[1]} {c.old_hash}"
        if c.skipped:
            line += f"，期间被修改跳过 {c.skipped}"
        if c.errors:
            line += f"，无法解密 {len(c.errors)}（{'、'.join(c.errors[:5])}）"
        lines.append(line)
    if rep.vendors_to_reissue:
        lines.append(f"需重新签发厂家识别码的厂商 / vendors whose code must be re-issued: "
                     f"{', '.join(map(str, rep.vendors_to_reissue))}")
    if checking:
        lines.append("可以移除旧密钥 / old keys can be removed" if not rep.left and not rep.vendors_to_reissue
                     and not any(c.errors for c in rep.columns) else "旧密钥仍在使用，暂不能移除 / old keys still needed")
    return lines
