"""Key rotation without downtime (issue 20 B.5, ``smz rotate-key``): while ``rotate_key`` re-encrypts and re-hashes in
batches, a reader looking people up by ID number and decrypting never fails; afterwards ``check`` reports nothing
under the old key, the old key is removed and everything still reads (vendor codes: re-issued, as documented)."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import os
import random
from datetime import date

import pytest

from backend import crypto
from backend.devices import services as devices
from backend.devices.tables import Vendor
from backend.platform.services import SECRET_AAD
from backend.platform.tables import PlatformCredential
from backend.privacy import rotate
from backend.privacy.tables import KeyRotation
from backend.settings import get_settings
from backend.wages.payroll import CARD_AAD
from backend.wages.tables import Payroll, PayrollLine
from backend.workforce import services as workforce
from backend.workforce.tables import Person
from tests.integration.conftest import unique_name

pytestmark = pytest.mark.integration

NEW_KEY = os.urandom(32)


def _use_ring(monkeypatch: pytest.MonkeyPatch, current: bytes, *old: bytes) -> None:
    ring = dataclasses.replace(get_settings(), secret_key=current, old_secret_keys=tuple(old))
    monkeypatch.setattr(crypto, "get_settings", lambda: ring)


def _legacy_token(master: bytes, plain: str, aad: bytes) -> str:
    """A ciphertext as made before key ids existed: base64(nonce|ct), no prefix."""
    nonce = os.urandom(12)
    return base64.b64encode(nonce + crypto._keys(master)[0].encrypt(nonce, plain.encode(), aad)).decode()


async def test_rotation_with_a_reader_running_then_old_key_removed(world, monkeypatch):
    old_key = get_settings().secret_key
    people: dict[int, str] = {}
    for _ in range(80):
        number = world.id_number()
        people[await workforce.upsert_person(id_number=number, name=unique_name("工人"))] = number
    # one legacy row (no key id), a card number, a platform secret
    legacy_pid = next(iter(people))
    await Person.update({Person.id_cipher: _legacy_token(old_key, people[legacy_pid], b"id_number")}).where(
        Person.id == legacy_pid)
    payroll = Payroll(project=world.project_a, month="2026-10")
    await payroll.save()
    await PayrollLine(payroll=payroll.id, person=legacy_pid, card_enc=crypto.encrypt_text("6222000011112222", aad=CARD_AAD),
                      card_masked="6222********2222").save()
    await PlatformCredential(district=world.district_a, base_url="https://p.example", appid="a",
                             secret_cipher=crypto.encrypt_text("s3cret", aad=SECRET_AAD)).save()
    old_kid = crypto.key_id(old_key)

    _use_ring(monkeypatch, NEW_KEY, old_key)  # every process restarted with the new ring, then rotate
    assert (await rotate.check()).left > 80

    failures: list[str] = []
    reads = 0
    done = asyncio.Event()

    async def reader() -> None:
        nonlocal reads
        rng = random.Random(3)
        ids = list(people)
        while not done.is_set() or reads < 50:
            pid = rng.choice(ids)
            try:
                found = await workforce.find_person_id(people[pid])
                row = await Person.select(Person.id_cipher).where(Person.id == pid).first()
                if found != pid or crypto.decrypt_text(row["id_cipher"]) != people[pid]:
                    failures.append(f"{pid}: found {found}")
            except Exception as exc:  # the test's point: nothing may raise
                failures.append(f"{pid}: {exc!r}")
            reads += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(reader())
    try:
        report = await rotate.rotate_key(batch=7)
        during = reads  # reads made while the rotation ran
    finally:
        done.set()
        await task
    assert failures == [] and during >= 10
    id_col = report.columns[0]
    assert id_col.old_key >= 80 and id_col.old_hash >= 80 and not id_col.errors
    assert report.columns[2].old_key >= 1 and report.columns[3].old_key >= 1  # card, platform secret

    after = await rotate.check()
    assert after.left == 0 and not any(c.errors for c in after.columns)
    assert world.vendor in after.vendors_to_reissue  # its code hash was made under the old key
    rows = await Person.select(Person.id_cipher).where(Person.id.is_in(list(people)))
    assert all(r["id_cipher"].startswith(crypto.current_key_id() + ":") for r in rows)
    assert crypto.current_key_id() != old_kid
    assert (await KeyRotation.select().first())["status"] == "done"
    assert (await rotate.rotate_key()).columns[0].old_key == 0  # a second run has nothing to do

    # the vendor's code still works while the old key is listed; re-issued, it works under the new key alone
    assert await devices.vendor_id_by_code(world.vendor_code) == world.vendor
    fresh = await devices.rotate_vendor_code(world.vendor)

    _use_ring(monkeypatch, NEW_KEY)  # the old key removed
    for pid, number in people.items():
        assert await workforce.find_person_id(number) == pid
        row = await Person.select(Person.id_cipher).where(Person.id == pid).first()
        assert crypto.decrypt_text(row["id_cipher"]) == number
    line = await PayrollLine.select(PayrollLine.card_enc).where(PayrollLine.payroll == payroll.id).first()
    assert crypto.decrypt_text(line["card_enc"], aad=CARD_AAD) == "6222000011112222"
    stored = (await Vendor.select(Vendor.code_hash).where(Vendor.id == world.vendor).first())["code_hash"]
    assert devices.vendor_code_matches(fresh.code, stored)
    assert not devices.vendor_code_matches(world.vendor_code, stored)
    assert (await rotate.check()).vendors_to_reissue == []


async def test_a_duplicate_person_made_under_the_new_key_is_reported_not_fatal(world, monkeypatch):
    older = get_settings().secret_key
    newest = os.urandom(32)
    _use_ring(monkeypatch, newest, NEW_KEY, older)  # the first test left rows under NEW_KEY
    number = world.id_number()
    _use_ring(monkeypatch, older)
    first = await workforce.upsert_person(id_number=number, name=unique_name("工人"))
    _use_ring(monkeypatch, newest, NEW_KEY, older)
    # a twin written under the newest key by a path that did not search every ring hash (what lookup_hashes prevents)
    twin = Person(name=unique_name("工人"), id_cipher=crypto.encrypt_text(number), id_hash=crypto.lookup_hash(number),
                  id_masked="x", gender="M", birth_date=date(1980, 1, 1))
    await twin.save()

    report = await rotate.rotate_key(batch=5)

    assert [e.split(":")[0] for e in report.columns[0].errors] == [str(first)]
    left = await rotate.check()
    assert left.columns[0].old_hash == 1  # the one row to merge by hand; everything else is done
    assert left.columns[0].old_key == 1
    assert await workforce.find_person_id(number) in (first, twin.id)


async def test_a_run_without_old_keys_flags_no_vendor(world, monkeypatch):
    """Re-writing legacy tokens under the same key (no SMZ_OLD_SECRET_KEYS) changes no vendor's key."""
    only = os.urandom(32)
    _use_ring(monkeypatch, only)
    await rotate.rotate_key()
    assert (await rotate.check()).vendors_to_reissue == []
    last = await KeyRotation.select().order_by(KeyRotation.id, ascending=False).first()
    assert last["old_key_ids"] == "" and last["key_id"] == crypto.key_id(only)
