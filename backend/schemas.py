"""Response types shared by every package's ``schemas.py``.

A JSON handler returns an ``Out`` Struct (or a list of them), never a bare dict, so ``/schema`` documents the
response and a client can be generated from it.  Services may keep returning dicts or rows: the controller
converts at the edge with :func:`out` (``msgspec.convert``: the shape is checked).  Unknown keys are refused
when ``SMZ_STRICT_RESPONSES=1`` (the test suite sets it, so a service that grows a key fails the tests) and
dropped otherwise (in production a key a Struct does not know must not turn a page into a 500).

ID numbers (身份证号) leave only through :data:`MaskedId`: its pattern is checked on every conversion and in
``Out.__post_init__``, so a full number in a ``MaskedId`` field is an error, never a leak.  The deliberate
full-ID paths (logged exports for project staff, the district and admin — docs/security.md §6) use
:data:`FullIdNumber`, named so that every such path can be found with grep.  A unit test refuses any response
field named like an ID number that is typed otherwise.
"""

from __future__ import annotations

import functools
import os
import re
import typing
from typing import Annotated, Any, TypeVar

import msgspec
from msgspec import Meta

#: 4407**********123X (first four and last four kept), all stars for short values, or empty.
MASKED_ID_PATTERN = r"^(|\*{1,8}|[0-9A-Za-z]{4}\*+[0-9A-Za-z]{4})$"
_MASKED = re.compile(MASKED_ID_PATTERN)

MaskedId = Annotated[str, Meta(pattern=MASKED_ID_PATTERN, description="身份证号（脱敏）: 4407**********123X",
                               examples=["4407**********123X"])]
#: A full ID number: only on the logged full-ID paths (docs/security.md §6).  Grep for it.
FullIdNumber = Annotated[str, Meta(description="身份证号（完整）: only in logged full-ID exports")]

T = TypeVar("T")


@functools.cache
def _masked_fields(cls: type) -> tuple[str, ...]:
    hints = typing.get_type_hints(cls, include_extras=True)
    return tuple(name for name in cls.__struct_fields__
                 if hints.get(name) is MaskedId or MaskedId in typing.get_args(hints.get(name)))


STRICT_RESPONSES = os.environ.get("SMZ_STRICT_RESPONSES") == "1"


class Out(msgspec.Struct, forbid_unknown_fields=STRICT_RESPONSES):
    """Base of every response Struct.  Under ``SMZ_STRICT_RESPONSES=1`` (the tests) unknown keys are refused
    on conversion, so a service that grows a key fails loudly in the tests; in production they are dropped."""

    def __post_init__(self) -> None:
        for name in _masked_fields(type(self)):
            value = getattr(self, name)
            if isinstance(value, str) and not _MASKED.match(value):
                raise ValueError(f"{type(self).__name__}.{name} must be a masked ID number")


def out(typ: type[T] | Any, value: Any) -> T:
    """``value`` (a dict, a row, an object with attributes, or a list of them) as the response type ``typ``."""
    return msgspec.convert(value, typ, from_attributes=True)


class Created(Out):
    """The id of what was made."""

    id: int


class StatusOut(Out):
    status: str
