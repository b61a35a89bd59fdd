"""The key ring of backend.crypto (``smz rotate-key``): ciphertexts carry their key id, legacy tokens (no id) still
read, look-ups match a hash under any key of the ring, masked values read as they are, and a ciphertext whose key was
removed fails loudly instead of misreading."""

from __future__ import annotations

import base64
import os
from types import SimpleNamespace

import pytest
from cryptography.exceptions import InvalidTag

from backend import crypto
from backend.settings import _old_keys

OLD, NEW = os.urandom(32), os.urandom(32)


def _ring(monkeypatch: pytest.MonkeyPatch, current: bytes, *old: bytes) -> None:
    monkeypatch.setattr(crypto, "get_settings", lambda: SimpleNamespace(secret_key=current, old_secret_keys=old))


def test_new_ciphertext_carries_the_current_key_id(monkeypatch):
    _ring(monkeypatch, NEW, OLD)
    token = crypto.encrypt_text("440703198001011234")
    assert token.startswith(crypto.key_id(NEW) + ":") and crypto.token_key_id(token) == crypto.key_id(NEW)
    assert crypto.decrypt_text(token) == "440703198001011234"


def test_old_key_ciphertext_reads_while_the_old_key_is_listed_and_fails_once_removed(monkeypatch):
    _ring(monkeypatch, OLD)
    token = crypto.encrypt_text("6222000011112222", aad=b"wage_card_no")
    _ring(monkeypatch, NEW, OLD)
    assert crypto.decrypt_text(token, aad=b"wage_card_no") == "6222000011112222"
    _ring(monkeypatch, NEW)
    with pytest.raises(KeyError):
        crypto.decrypt_text(token, aad=b"wage_card_no")


def test_legacy_unprefixed_token_reads_under_any_ring_key(monkeypatch):
    nonce = os.urandom(12)
    legacy = base64.b64encode(nonce + crypto._keys(OLD)[0].encrypt(nonce, b"X1", b"id_number")).decode()
    assert crypto.token_key_id(legacy) is None
    _ring(monkeypatch, NEW, OLD)
    assert crypto.decrypt_text(legacy) == "X1"
    _ring(monkeypatch, NEW)
    with pytest.raises(InvalidTag):
        crypto.decrypt_text(legacy)


def test_wrong_aad_is_refused(monkeypatch):
    _ring(monkeypatch, NEW)
    with pytest.raises(InvalidTag):
        crypto.decrypt_text(crypto.encrypt_text("a", aad=b"id_number"), aad=b"wage_card_no")


def test_lookup_hashes_hold_the_current_hash_first_then_the_old_ones(monkeypatch):
    _ring(monkeypatch, OLD)
    old_hash = crypto.lookup_hash("440703198001011234")
    _ring(monkeypatch, NEW, OLD)
    hashes = crypto.lookup_hashes("440703198001011234 ")
    assert hashes == [crypto.lookup_hash("440703198001011234"), old_hash] and hashes[0] != old_hash
    _ring(monkeypatch, NEW)
    assert crypto.lookup_hashes("440703198001011234") == [hashes[0]]


def test_keyed_hashes_cover_the_ring(monkeypatch):
    _ring(monkeypatch, OLD)
    old = crypto.keyed_hash("CODE", "vendor-code")
    _ring(monkeypatch, NEW, OLD)
    assert old in crypto.keyed_hashes("CODE", "vendor-code") and crypto.keyed_hash("CODE", "vendor-code") != old


def test_masked_token_reads_as_the_masked_form_and_has_no_key(monkeypatch):
    _ring(monkeypatch, NEW)
    token = crypto.masked_token("4407**********123X")
    assert crypto.decrypt_text(token) == "4407**********123X" and crypto.token_key_id(token) == ""


def test_key_id_reveals_nothing_of_the_key_and_differs_per_key():
    assert len(crypto.key_id(NEW)) == 8 and crypto.key_id(NEW) != crypto.key_id(OLD)
    assert crypto.key_id(NEW) not in NEW.hex()


def test_old_keys_setting_parses_base64_skips_the_current_and_refuses_bad_keys():
    b64 = base64.b64encode
    assert _old_keys(f"{b64(OLD).decode()}, {b64(NEW).decode()},", NEW) == (OLD,)
    with pytest.raises(SystemExit):
        _old_keys(b64(b"short").decode(), NEW)
    with pytest.raises(SystemExit):
        _old_keys("not base64!", NEW)
