"""The dependency direction of docs/architecture.md, checked on the source (AST: nothing is imported).

The graph and the layering come from scripts/import_graph.py (run it to see the picture and what fails).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load_graph_module():
    spec = importlib.util.spec_from_file_location("smz_import_graph", ROOT / "scripts" / "import_graph.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look the module up while the class is built
    spec.loader.exec_module(module)
    return module


ig = _load_graph_module()


@pytest.fixture(scope="module")
def imports():
    return ig.component_imports(ROOT)


def test_no_cycle_between_backend_components(imports):
    """Architecture rule: the component graph of backend is acyclic (module-level and function-level imports)."""
    assert ig.strongly_connected(ig.component_graph(imports)) == []


def test_no_cycle_between_backend_packages_domain_code(imports):
    """Architecture rule: without the adapters (controllers/pages/routes, the gate adapter, auth and the entry
    modules), the packages of backend import each other in one direction only."""
    domain = [i for i in imports if ig.layer_of(ig.component_of(i.module)) not in ("adapters", "entry")]
    assert ig.strongly_connected(ig.graph(domain)) == []


def test_every_import_points_down_the_layers(imports):
    """Architecture rule: a component imports only from lower layers (peer layers: from its own, acyclic)."""
    bad = [f"{i.module}:{i.line} {src} -> {dst}" for i, src, dst in ig.upward_imports(imports)]
    assert bad == []


def test_every_backend_component_has_a_layer():
    """A new package or top-level module must be placed in scripts/import_graph.py LAYERS (and the doc)."""
    components = {ig.component_of(ig.module_name(p, ROOT)) for p in ig.source_files("backend", root=ROOT)}
    components.discard("backend")
    assert sorted(c for c in components if ig.layer_of(c) is None) == []


def test_no_function_level_backend_import_outside_the_allow_list():
    """Architecture rule: no function-level `backend` import to dodge a cycle; the allowed ones are listed with
    their reason in ALLOWED_LAZY (and docs/architecture.md)."""
    lazy = [
        f"{i.module}:{i.line} -> {i.target}"
        for i in ig.all_imports("backend", root=ROOT)
        if i.lazy and i.target.split(".")[0] == "backend" and i.module not in ig.ALLOWED_LAZY
    ]
    assert lazy == []


def test_allow_list_is_documented():
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    for module in ig.ALLOWED_LAZY:
        assert module.replace(".", "/") + ".py" in doc, module


@pytest.mark.parametrize("package", ["geofence", "device_tcp", "refdata"])
def test_libraries_never_import_backend(package):
    """geofence/ and device_tcp/ are libraries of their own (refdata/ is pure data): none imports backend."""
    bad = [f"{i.module}:{i.line} -> {i.target}" for i in ig.all_imports(package, root=ROOT)
           if i.target.split(".")[0] == "backend"]
    assert bad == []


def test_refdata_imports_nothing_of_this_repository():
    bad = [f"{i.module}:{i.line} -> {i.target}" for i in ig.all_imports("refdata", root=ROOT)
           if i.target.split(".")[0] in ("backend", "device_tcp", "geofence", "pwa")]
    assert bad == []


def test_the_checker_sees_cycles_and_upward_imports(tmp_path):
    """The checks themselves: a planted cycle, upward import and lazy import are found."""
    pkg = tmp_path / "backend"
    (pkg / "org").mkdir(parents=True)
    (pkg / "workforce").mkdir()
    for p in (pkg, pkg / "org", pkg / "workforce"):
        (p / "__init__.py").write_text("")
    (pkg / "org" / "services.py").write_text("def f():\n    from backend.workforce import tables\n")
    (pkg / "workforce" / "tables.py").write_text("from backend.org import services\n")
    found = ig.component_imports(tmp_path)
    assert ig.strongly_connected(ig.component_graph(found)) == [["org", "workforce"]]
    assert [(i.module, src) for i, src, _dst in ig.upward_imports(found)] == [("backend.org.services", "org (org)")]
    assert [i.module for i in ig.disallowed_lazy(found)] == ["backend.org.services"]
