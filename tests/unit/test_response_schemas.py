"""Typed responses (issue 12, item 4): every JSON API handler returns a msgspec Struct, so /schema documents
its response; ID numbers leave only through ``MaskedId`` (or the grep-able ``FullIdNumber``)."""

from __future__ import annotations

import re
import typing
from typing import Any

import msgspec
import pytest
from litestar.response import ServerSentEvent

from backend.app import create_app
from backend.schemas import FullIdNumber, MaskedId, Out, out

# JSON routes whose response is not typed yet: (method, OpenAPI path).  Remove an entry when it is typed;
# never add one for a new route.
NOT_YET_TYPED: set[tuple[str, str]] = set()

_ID_FIELD = re.compile(r"(^|_)id_(masked|number|no|card)$|^id_number|^id_masked")


@pytest.fixture(scope="module")
def app() -> Any:
    return create_app()


def _is_json(handler: Any) -> bool:
    """False for handlers that answer with no body, bytes (files, .xlsx) or server-sent events."""
    rt = handler.parsed_fn_signature.return_type
    if rt.annotation in (None, type(None), bytes, ServerSentEvent):
        return False
    return not (rt.origin is not None and rt.args and rt.args[0] is bytes)


def _documented(schema: dict[str, Any], components: dict[str, Any]) -> bool:
    if "$ref" in schema:
        ref = components[schema["$ref"].rsplit("/", 1)[-1]]
        return bool(ref.get("properties"))
    if schema.get("type") == "array":
        return _documented(schema.get("items", {}), components)
    if "oneOf" in schema:
        return all(_documented(s, components) for s in schema["oneOf"] if s.get("type") != "null")
    return bool(schema.get("properties"))


def _json_api_routes(app: Any) -> list[tuple[str, str]]:
    found = []
    for route in app.routes:
        if not route.path.startswith("/api"):
            continue
        for handler in getattr(route, "route_handlers", []):
            if not _is_json(handler) or not handler.include_in_schema:
                continue
            path = re.sub(r"\{(\w+):[^}]+\}", r"{\1}", route.path)
            for method in handler.http_methods - {"OPTIONS", "HEAD"}:
                found.append((method, path))
    return sorted(set(found))


def test_every_json_api_route_documents_its_response(app: Any) -> None:
    schema = app.openapi_schema.to_schema()
    components = schema.get("components", {}).get("schemas", {})
    routes = _json_api_routes(app)
    assert len(routes) > 80
    undocumented = []
    for method, path in routes:
        op = schema["paths"][path][method.lower()]
        content = next((r.get("content", {}) for code, r in op["responses"].items() if code.startswith("2")), {})
        body = content.get("application/json", {}).get("schema", {})
        if not _documented(body, components):
            undocumented.append((method, path))
    assert sorted(set(undocumented) - NOT_YET_TYPED) == [], "JSON handlers must return a response Struct"
    assert sorted(NOT_YET_TYPED - set(undocumented)) == [], "typed now: remove from NOT_YET_TYPED"


def _out_types() -> list[type]:
    seen, todo = [], list(Out.__subclasses__())
    while todo:
        cls = todo.pop()
        if cls not in seen:
            seen.append(cls)
            todo.extend(cls.__subclasses__())
    return seen


def test_id_number_fields_are_masked_or_explicitly_full(app: Any) -> None:
    types = _out_types()
    assert len(types) > 50
    wrong = []
    for cls in types:
        hints = typing.get_type_hints(cls, include_extras=True)
        for name in cls.__struct_fields__:
            if _ID_FIELD.search(name):
                t = hints[name]
                if not (t in (MaskedId, FullIdNumber) or {MaskedId, FullIdNumber} & set(typing.get_args(t))):
                    wrong.append(f"{cls.__name__}.{name}")
    assert wrong == []


class _Person(Out):
    name: str
    id_masked: MaskedId | None


def test_a_full_id_number_cannot_leave_through_masked_id() -> None:
    assert out(_Person, {"name": "张三", "id_masked": "4407**********123X"}).id_masked == "4407**********123X"
    assert out(_Person, {"name": "张三", "id_masked": None}).id_masked is None
    with pytest.raises(msgspec.ValidationError):
        out(_Person, {"name": "张三", "id_masked": "44070319900101123X"})
    with pytest.raises(ValueError):
        _Person(name="张三", id_masked="44070319900101123X")


def test_a_response_refuses_unknown_keys_instead_of_dropping_them() -> None:
    with pytest.raises(msgspec.ValidationError):
        out(_Person, {"name": "张三", "id_masked": None, "phone": "13800000000"})


def test_conversion_keeps_the_json_shape() -> None:
    from backend.fences.schemas import TransitionOut

    t = out(TransitionOut, {"from": "inside", "to": "outside", "from_label": "内", "to_label": "外", "count": 2})
    assert msgspec.json.decode(msgspec.json.encode(t)) == {
        "from": "inside", "to": "outside", "from_label": "内", "to_label": "外", "count": 2}
    from backend.devices.schemas import VendorCodeOut

    made = VendorCodeOut(id=1, code="c", notice="n", notice_en="e")
    assert "disconnected" not in msgspec.json.decode(msgspec.json.encode(made))  # absent, as before
