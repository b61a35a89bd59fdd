"""ID numbers encrypted at rest (AES-256-GCM, random nonce) with a keyed look-up hash; argon2 passwords."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from backend.crypto import (
    DUMMY_PASSWORD_HASH,
    decrypt_text,
    encrypt_text,
    hash_password,
    lookup_hash,
    verify_password,
)
from backend.settings import get_settings

NUMBER = "11010519491231002X"


def _raw(token: str) -> bytes:
    """nonce|ciphertext|tag of a token ``<key id>:<base64>`` (the key id prefix since issue 20's key ring)."""
    kid, sep, body = token.partition(":")
    assert sep and len(kid) == 8
    return base64.b64decode(body, validate=True)


def _token(raw: bytes) -> str:
    return encrypt_text("x").partition(":")[0] + ":" + base64.b64encode(raw).decode()


def test_encrypt_decrypt_round_trip():
    token = encrypt_text(NUMBER)
    assert decrypt_text(token) == NUMBER
    assert NUMBER not in token


def test_encrypt_round_trip_unicode():
    assert decrypt_text(encrypt_text("张三 440703")) == "张三 440703"


def test_ciphertexts_differ_for_same_plaintext_random_nonce():
    tokens = {encrypt_text(NUMBER) for _ in range(20)}
    assert len(tokens) == 20
    nonces = {_raw(t)[:12] for t in tokens}
    assert len(nonces) == 20
    assert all(decrypt_text(t) == NUMBER for t in tokens)


def test_ciphertext_layout_nonce_12_bytes_plus_gcm_tag():
    raw = _raw(encrypt_text(NUMBER))
    assert len(raw) == 12 + len(NUMBER) + 16


def test_tampered_ciphertext_fails_authentication():
    raw = bytearray(_raw(encrypt_text(NUMBER)))
    for pos in (0, 12, len(raw) - 1):  # nonce, ciphertext, tag
        bad = bytearray(raw)
        bad[pos] ^= 0x01
        with pytest.raises(InvalidTag):
            decrypt_text(_token(bytes(bad)))


def test_truncated_ciphertext_fails():
    raw = _raw(encrypt_text(NUMBER))
    with pytest.raises(InvalidTag):
        decrypt_text(_token(raw[:-1]))


def test_ciphertext_bound_to_its_purpose_aad():
    token = encrypt_text(NUMBER)
    with pytest.raises(InvalidTag):
        decrypt_text(token, aad=b"something-else")
    assert decrypt_text(encrypt_text(NUMBER, aad=b"x"), aad=b"x") == NUMBER


def test_lookup_hash_stable_and_keyed():
    # Stored look-up hashes must stay findable: pin the documented scheme, HMAC-SHA256 under a key derived
    # from SMZ_SECRET_KEY with HKDF-SHA256 (info "smz id-number lookup v1"), computed here independently.
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"smz id-number lookup v1").derive(
        get_settings().secret_key)
    h = lookup_hash(NUMBER)
    assert h == hmac.new(key, NUMBER.encode(), hashlib.sha256).hexdigest()
    assert h != hashlib.sha256(NUMBER.encode()).hexdigest()  # keyed, not a plain hash


def test_lookup_hash_case_and_space_normalised():
    assert lookup_hash("11010519491231002x") == lookup_hash(NUMBER)
    assert lookup_hash(f"  {NUMBER}\t") == lookup_hash(NUMBER)


def test_lookup_hash_distinguishes_numbers():
    assert lookup_hash("110105194912310003") != lookup_hash(NUMBER)


def test_password_hash_argon2id_and_verify():
    stored = hash_password("correct horse")
    assert stored.startswith("$argon2id$")
    assert "correct horse" not in stored
    assert verify_password(stored, "correct horse")
    assert not verify_password(stored, "wrong horse")


def test_password_verify_handles_garbage_hash():
    assert not verify_password("not-a-hash", "x")
    assert not verify_password(DUMMY_PASSWORD_HASH, "")
