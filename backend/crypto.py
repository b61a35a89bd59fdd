"""Encryption of ID numbers at rest and password hashing.

ID numbers: AES-256-GCM with a random 96-bit nonce (stored as base64 ``nonce|ciphertext``), and a keyed
HMAC-SHA256 for equality look-ups (so a unique index works without decrypting).  Both keys are derived
from ``SMZ_SECRET_KEY`` with HKDF, so one secret is configured and the two uses never share a key.
Passwords: argon2id (argon2-cffi).

Key ring (``smz rotate-key``, docs/security.md): ``SMZ_SECRET_KEY`` is the current key, ``SMZ_OLD_SECRET_KEYS`` the
keys being retired.  A ciphertext made now carries the id of its key (``<kid>:<base64>``, kid = 8 hex characters
derived from the key, not the key); an unprefixed token is a legacy one (made before key ids existed) and is tried
under every key of the ring (AES-GCM authenticates, so a wrong key fails, never misreads).  Look-ups accept a hash
under any key of the ring (``lookup_hashes``, ``keyed_hashes``).  A ``masked:`` token is not a ciphertext: data
past retention (``smz retention``) keeps only the masked form, and ``decrypt_text`` returns it as it is.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from backend.settings import get_settings


def _derive(master: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master)


@lru_cache(maxsize=4)
def _keys(master: bytes) -> tuple[AESGCM, bytes]:
    return AESGCM(_derive(master, b"smz id-number aes-gcm v1")), _derive(master, b"smz id-number lookup v1")


def _current_keys() -> tuple[AESGCM, bytes]:
    return _keys(get_settings().secret_key)


MASKED_PREFIX = "masked:"


@lru_cache(maxsize=16)
def key_id(master: bytes) -> str:
    """The public id of a master key (8 hex characters, HKDF-derived: it reveals nothing of the key)."""
    return _derive(master, b"smz key id v1")[:4].hex()


def _ring() -> tuple[bytes, ...]:
    """The current key first, then the old keys being retired (``SMZ_OLD_SECRET_KEYS``)."""
    s = get_settings()
    return (s.secret_key, *getattr(s, "old_secret_keys", ()))


def current_key_id() -> str:
    return key_id(get_settings().secret_key)


def old_key_ids() -> list[str]:
    """The ids of the keys being retired (``SMZ_OLD_SECRET_KEYS``), in order."""
    return [key_id(k) for k in _ring()[1:]]


def token_key_id(token: str) -> str | None:
    """The key id a ciphertext carries; ``None`` for a legacy (unprefixed) token; ``""`` for a masked or empty
    value (no key at all)."""
    if not token or token.startswith(MASKED_PREFIX):
        return ""
    head, sep, _ = token.partition(":")
    return head if sep else None


def masked_token(masked: str) -> str:
    """What replaces a ciphertext past retention: the masked form, readable by ``decrypt_text`` as it is."""
    return MASKED_PREFIX + masked


def encrypt_text(plain: str, *, aad: bytes = b"id_number") -> str:
    master = get_settings().secret_key
    aead, _ = _keys(master)
    nonce = os.urandom(12)
    return f"{key_id(master)}:" + base64.b64encode(nonce + aead.encrypt(nonce, plain.encode(), aad)).decode()


def decrypt_text(token: str, *, aad: bytes = b"id_number") -> str:
    if token.startswith(MASKED_PREFIX):
        return token.removeprefix(MASKED_PREFIX)
    kid, sep, body = token.partition(":")
    ring = _ring()
    if sep:
        candidates = [k for k in ring if key_id(k) == kid]
        if not candidates:
            raise KeyError(f"ciphertext key {kid} is not configured (SMZ_SECRET_KEY / SMZ_OLD_SECRET_KEYS)")
    else:  # legacy token: made under whichever key was the only one then
        body, candidates = token, list(ring)
    raw = base64.b64decode(body)
    error: Exception | None = None
    for master in candidates:
        try:
            return _keys(master)[0].decrypt(raw[:12], raw[12:], aad).decode()
        except InvalidTag as exc:
            error = exc
    assert error is not None
    raise error


def _hmac_hex(key: bytes, plain: str) -> str:
    return hmac.new(key, plain.strip().upper().encode(), hashlib.sha256).hexdigest()


def lookup_hash(plain: str) -> str:
    """Keyed hash of a normalised ID number under the current key: what new rows store (unique index)."""
    _, key = _current_keys()
    return _hmac_hex(key, plain)


def lookup_hashes(plain: str) -> list[str]:
    """The hash under every key of the ring, current first: a search matches ``id_hash IN (...)``, so a person is
    found whether or not ``smz rotate-key`` has re-hashed their row yet.  One element without old keys."""
    return [_hmac_hex(_keys(master)[1], plain) for master in _ring()]


def keyed_hash(value: str, purpose: str) -> str:
    """HMAC-SHA256 (hex) of a secret such as a gate vendor code, under a key derived from
    ``SMZ_SECRET_KEY`` for this ``purpose`` only.  Compare results with ``hmac.compare_digest``."""
    key = _purpose_key(get_settings().secret_key, purpose.encode())
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def keyed_hashes(value: str, purpose: str) -> list[str]:
    """``keyed_hash`` under every key of the ring, current first (a stored hash made before a key rotation still
    matches while its key is listed in ``SMZ_OLD_SECRET_KEYS``)."""
    return [hmac.new(_purpose_key(master, purpose.encode()), value.encode(), hashlib.sha256).hexdigest()
            for master in _ring()]


@lru_cache(maxsize=8)
def _purpose_key(master: bytes, purpose: bytes) -> bytes:
    return _derive(master, b"smz keyed-hash v1 " + purpose)


_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


# A fixed hash to verify against when the user does not exist, so timing does not reveal usernames.
DUMMY_PASSWORD_HASH = _hasher.hash("not-a-real-password")
