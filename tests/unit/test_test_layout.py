"""The test folders have no __init__.py (rootdir-relative imports): pytest imports every test module by its
basename, so two test files with the same name in different folders stop the whole collection."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_every_test_module_has_a_unique_basename() -> None:
    names = Counter(p.name for p in TESTS.rglob("test_*.py"))
    assert sorted(n for n, c in names.items() if c > 1) == []
