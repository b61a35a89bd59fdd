"""Reason and flag codes of punch verdicts, with the Chinese the UI shows."""

from __future__ import annotations

from backend.vocabulary import REASON_ZH, VERDICT_ZH, PunchVerdict, Reason

__all__ = ["REASON_ZH", "VERDICT_ZH", "PunchVerdict", "Reason", "describe"]

# The codes and their Chinese live in backend/vocabulary.py (Reason, PunchVerdict); these names stay importable.


def describe(codes: list[str] | tuple[str, ...]) -> str:
    return "；".join(REASON_ZH.get(c, c) for c in codes)
