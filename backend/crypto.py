"""Encryption of ID numbers at rest and password hashing.

ID numbers: AES-256-GCM with a random 96-bit nonce (stored as base64 ``nonce|ciphertext``), and a keyed
HMAC-SHA256 for equality look-ups (so a unique index works without decrypting).  Both keys are derived
from ``SMZ_SECRET_KEY`` with HKDF, so one secret is configured and the two uses never share a key.
Passwords: argon2id (argon2-cffi).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
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


def encrypt_text(plain: str, *, aad: bytes = b"id_number") -> str:
    aead, _ = _current_keys()
    nonce = os.urandom(12)
    return base64.b64encode(nonce + aead.encrypt(nonce, plain.encode(), aad)).decode()


def decrypt_text(token: str, *, aad: bytes = b"id_number") -> str:
    aead, _ = _current_keys()
    raw = base64.b64decode(token)
    return aead.decrypt(raw[:12], raw[12:], aad).decode()


def lookup_hash(plain: str) -> str:
    """Keyed hash of a normalised ID number, for unique indexes and searches."""
    _, key = _current_keys()
    return hmac.new(key, plain.strip().upper().encode(), hashlib.sha256).hexdigest()


def keyed_hash(value: str, purpose: str) -> str:
    """HMAC-SHA256 (hex) of a secret such as a gate vendor code, under a key derived from
    ``SMZ_SECRET_KEY`` for this ``purpose`` only.  Compare results with ``hmac.compare_digest``."""
    key = _purpose_key(get_settings().secret_key, purpose.encode())
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


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
