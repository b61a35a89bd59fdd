"""Encodings as bytes and 1:N search (pure numpy, no pool).

Rules checked: the template storage format (512-byte float32, docs/face.md) and the 1:N
search used for duplicate enrolment (rules.face_duplicate_tolerance).
"""

from __future__ import annotations

import numpy as np
import pytest

from backend.errors import InvalidInput
from backend.face.service import (
    ENCODING_BYTES,
    FaceService,
    encoding_from_bytes,
    encoding_to_bytes,
    face_distance,
    search,
    search_within,
    templates_matrix,
)


def test_encoding_bytes_round_trip():
    v = np.random.default_rng(1).normal(0, 0.1, 128)
    blob = encoding_to_bytes(v)
    assert len(blob) == ENCODING_BYTES == 512
    back = encoding_from_bytes(blob)
    assert np.abs(back - v).max() < 1e-7
    assert np.array_equal(encoding_from_bytes(v.astype("<f8").tobytes()), v)  # float64 accepted
    for bad in (b"", b"x" * 100, np.full(128, np.nan, dtype="<f4").tobytes()):
        with pytest.raises(InvalidInput) as e:
            encoding_from_bytes(bad)
        assert e.value.code == "invalid_template" and e.value.zh and e.value.en
    with pytest.raises(ValueError):
        encoding_to_bytes([0.0] * 5)


def test_search_finds_the_nearest_of_10000():
    rng = np.random.default_rng(2)
    blobs = [encoding_to_bytes(rng.normal(0, 0.1, 128)) for _ in range(10_000)]
    matrix = templates_matrix(blobs)
    assert matrix.shape == (10_000, 128) and matrix.dtype == np.float32
    ids = [f"w{i}" for i in range(10_000)]
    probe = encoding_from_bytes(blobs[4321]) + rng.normal(0, 0.01, 128)
    who, d = search(probe, matrix, ids)
    assert who == "w4321" and d < 0.2
    assert search(encoding_to_bytes(probe), matrix, ids)[0] == "w4321"
    assert [i for i, _ in search_within(probe, matrix, ids, 0.3)] == ["w4321"]
    assert search(probe, templates_matrix([]), []) is None
    with pytest.raises(ValueError):
        search(probe, matrix, ids[:-1])


def test_fork_context_is_refused():
    with pytest.raises(ValueError):
        FaceService(1, mp_context="fork")


def test_face_distance():
    a = np.zeros(128)
    b = np.zeros(128)
    b[0] = 0.6
    assert face_distance(a, b) == pytest.approx(0.6)
    assert face_distance(encoding_to_bytes(a), encoding_to_bytes(b)) == pytest.approx(0.6, abs=1e-6)
