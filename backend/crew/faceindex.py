"""The in-process 1:N template matrix (pure: numpy, no I/O).

``backend.crew.services.face_index()`` keeps ONE ``FaceMatrix`` per process and reloads it from the
database only when the version counter in ``crew_face_index`` differs from the one it was built
from (or when it is older than ``max_age_s``, which also catches enrolments written by paths that do
not bump the counter).  A search is then one vectorised distance computation over an (N, 128)
float32 matrix: ~1 ms for 10,000 templates (benchmarks/crew.py).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from backend.face.service import ENCODING_SIZE, encoding_from_bytes, templates_matrix


class FaceMatrix:
    def __init__(self) -> None:
        self.version: int | None = None
        self.loaded_at = 0.0
        self.ids = np.zeros(0, dtype=np.int64)
        self.matrix = np.zeros((0, ENCODING_SIZE), dtype=np.float32)
        self.norms = np.zeros(0, dtype=np.float32)  # |row|², so a search is one matrix-vector product

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def is_current(self, version: int, max_age_s: float, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        return self.version == version and now - self.loaded_at <= max_age_s

    def load(self, version: int, rows: Sequence[tuple[int, bytes]], now: float | None = None) -> None:
        """Replace the matrix with ``(person_id, 512-byte template)`` rows; invalid blobs are skipped."""
        ids: list[int] = []
        blobs: list[bytes] = []
        for pid, blob in rows:
            if blob is not None and len(blob) in (ENCODING_SIZE * 4, ENCODING_SIZE * 8):
                ids.append(int(pid))
                blobs.append(bytes(blob))
        matrix = templates_matrix(blobs)
        self.ids, self.matrix = np.asarray(ids, dtype=np.int64), np.ascontiguousarray(matrix, dtype=np.float32)
        self.norms = np.einsum("ij,ij->i", self.matrix, self.matrix)
        self.version = version
        self.loaded_at = time.monotonic() if now is None else now

    def search_within(
        self, encoding: bytes | np.ndarray, tolerance: float, *, exclude: int | None = None, limit: int = 5
    ) -> list[tuple[int, float]]:
        """Persons whose template lies within ``tolerance``, nearest first (``exclude``: the person
        being registered, whose own earlier enrolment is no duplicate)."""
        if not len(self):
            return []
        e = encoding_from_bytes(encoding) if isinstance(encoding, bytes | bytearray | memoryview) else encoding
        q = np.asarray(e, dtype=np.float32).reshape(ENCODING_SIZE)
        # |m - q|² = |m|² - 2 m·q + |q|², without an (N, 128) temporary; einsum stays single-threaded
        d2 = self.norms - 2.0 * np.einsum("ij,j->i", self.matrix, q) + float(q @ q)
        np.maximum(d2, 0.0, out=d2)
        if exclude is not None:
            d2[self.ids == exclude] = np.inf
        hits = np.flatnonzero(d2 <= tolerance * tolerance)
        if not hits.size:
            return []
        hits = hits[np.argsort(d2[hits])][:limit]
        return [(int(self.ids[i]), float(np.sqrt(d2[i]))) for i in hits]
