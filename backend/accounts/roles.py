"""Roles and who they are."""

from __future__ import annotations

from backend.vocabulary import ROLE_ZH, Role

__all__ = ["ROLES", "Role"]

ROLES: dict[str, str] = ROLE_ZH  # role code → Chinese (backend/vocabulary.py)
