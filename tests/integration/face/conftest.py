"""Fixtures for the face pool tests: the sdist photos (skipped with a reason when unavailable)."""

from tests.fixtures.faces import face_photos  # noqa: F401  (re-exported session fixture)
