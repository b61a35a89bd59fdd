"""GB 11643-1999 citizen identification number: the check character (ISO 7064 MOD 11-2) and the province codes
of GB/T 2260 (first two digits of the address code).  Parsing and the app's errors: backend/validators.py."""

from __future__ import annotations

from typing import Final

ID_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK: Final = "10X98765432"
PROVINCES: Final = frozenset({
    11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46,
    50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83,
})


def id_check_char(first17: str) -> str:
    """The 18th character of an ID number whose first 17 digits are ``first17``."""
    total = sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS, strict=True))
    return ID_CHECK[total % 11]
