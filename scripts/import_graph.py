"""The import graph of backend/, read from the source (AST: nothing is imported, no side effects).

    uv run python scripts/import_graph.py            # package graph, cycles, function-level imports
    uv run python scripts/import_graph.py --edges    # every package edge with the modules behind it

A "unit" is a sub-package of backend (backend/workforce/ → ``workforce``) or a top-level module
(backend/settings.py → ``settings``). Module-level imports and function-level (lazy) imports are both
counted; ``if TYPE_CHECKING:`` imports are kept apart (they never run). tests/unit/test_architecture.py
uses the same functions, so what this prints is what the test checks (docs/architecture.md).
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, e.g. backend.accounts.services
    target: str  # the imported module (or module.name for `from a import b`), e.g. backend.workforce.tables
    line: int
    lazy: bool  # inside a function / method body
    type_only: bool  # under `if TYPE_CHECKING:`

    @property
    def src_unit(self) -> str:
        return unit_of(self.module)

    @property
    def dst_unit(self) -> str:
        return unit_of(self.target)


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def unit_of(module: str) -> str:
    """backend.accounts.services → accounts; backend.settings → settings; device_tcp.frames → device_tcp."""
    parts = module.split(".")
    if parts[0] != "backend":
        return parts[0]
    if len(parts) == 1:
        return "backend"
    return parts[1]


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(path: Path, root: Path = ROOT) -> list[Import]:
    module = module_name(path, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[Import] = []

    def visit(node: ast.AST, lazy: bool, type_only: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                for alias in child.names:
                    found.append(Import(module, alias.name, child.lineno, lazy, type_only))
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")
                    base = base[: len(base) - (child.level - 1)]
                    source = ".".join([*base, child.module] if child.module else base)
                else:
                    source = child.module or ""
                for alias in child.names:
                    # `from backend import x` names a module; `from backend.x import f` names x.
                    target = f"{source}.{alias.name}" if source in ("backend",) else source
                    found.append(Import(module, target, child.lineno, lazy, type_only))
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                visit(child, True, type_only)
            elif isinstance(child, ast.If) and _is_type_checking(child.test):
                for stmt in child.body:
                    visit(ast.Module(body=[stmt], type_ignores=[]), lazy, True)
                for stmt in child.orelse:
                    visit(ast.Module(body=[stmt], type_ignores=[]), lazy, type_only)
            else:
                visit(child, lazy, type_only)

    visit(tree, False, False)
    return found


def source_files(*packages: str, root: Path = ROOT) -> list[Path]:
    files: list[Path] = []
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            if "piccolo_migrations" in path.parts:
                continue  # generated history: frozen, not part of the layering
            files.append(path)
    return files


def all_imports(*packages: str, root: Path = ROOT) -> list[Import]:
    out: list[Import] = []
    for path in source_files(*packages, root=root):
        out.extend(imports_of(path, root))
    return out


def backend_imports(root: Path = ROOT) -> list[Import]:
    """Imports inside backend/ of other backend units (type-only imports excluded)."""
    return [
        i
        for i in all_imports("backend", root=root)
        if i.target.split(".")[0] == "backend" and not i.type_only and i.src_unit != i.dst_unit
        and i.dst_unit != "backend"
    ]


def graph(imports: list[Import]) -> dict[str, set[str]]:
    g: dict[str, set[str]] = {}
    for i in imports:
        g.setdefault(i.src_unit, set()).add(i.dst_unit)
        g.setdefault(i.dst_unit, set())
    return g


def strongly_connected(g: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan: the components with more than one unit (or a self-loop) are the cycles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0

    def strong(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(g.get(v, ())):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            strong(v)
    return sorted(out)


def two_cycles(g: dict[str, set[str]]) -> list[tuple[str, str]]:
    return sorted((a, b) for a in g for b in g[a] if a < b and a in g.get(b, ()))


# --- The layering (docs/architecture.md) ----------------------------------------------------------------
#
# A "component" is what the layering speaks of: a domain package of backend (its tables, services, schemas,
# dictionaries …), the HTTP adapter of a package (its controllers.py, pages.py, routes.py: ``<pkg>.web``), the
# gate adapter (``devices.gate``), or a top-level module.  Lowest layer first; a component imports only from
# lower layers (or, in a layer marked peer, from the same layer when that makes no cycle).

WEB_MODULES = frozenset({"controllers", "pages", "routes"})
# The gate-terminal adapter: lifecycle, domain calls and protocol adapters (they call attendance and crew).
GATE_ADAPTER = ("backend.devices.gate", "backend.devices.domain", "backend.devices.protocols")

LAYERS: tuple[tuple[str, frozenset[str]], ...] = (
    ("base", frozenset({"settings", "errors", "rules", "rules_catalog", "validators", "crypto", "db", "children", "bounded",
                        "limits", "xlsx_safe", "schemas", "vocabulary", "outbox", "money", "photostore"})),
    ("org", frozenset({"org", "face"})),
    ("workforce", frozenset({"workforce"})),
    ("devices", frozenset({"devices"})),
    ("accounts", frozenset({"accounts"})),
    ("attendance", frozenset({"attendance"})),
    ("fences", frozenset({"fences"})),
    ("clockin", frozenset({"clockin"})),
    ("crew", frozenset({"crew"})),
    ("platform", frozenset({"platform"})),  # upload to the provincial/national worker platform (issue 17)
    ("supervision", frozenset({"supervision"})),
    ("approvals", frozenset({"approvals"})),  # project application, notifications, audit trail
    ("onboarding", frozenset({"onboarding"})),  # vendor registration, scopes, device access applications (issue 20)
    ("wages", frozenset({"wages"})),  # special account, payroll, bank batches, reconciliation (issue 16)
    ("privacy", frozenset({"privacy"})),  # consent pages, person export, retention, key rotation (issue 20)
    ("upkeep", frozenset({"upkeep"})),  # device faults, repair tickets, removal notices, vendor service (issue 20)
    ("adapters", frozenset({"auth", "devices.gate", "static_assets"})),  # + every <pkg>.web
    ("entry", frozenset({"app", "cli", "demo", "demo_faces", "pages", "routes", "piccolo_app", "runtime", "serving"})),
)
PEER_LAYERS = frozenset({"base", "org", "adapters", "entry"})

# Function-level imports of backend that are allowed, with the reason (module → reason).  Anything else
# fails tests/unit/test_architecture.py: move the code to its owner instead.
ALLOWED_LAZY: dict[str, str] = {
    "backend.cli": "the command line imports a command's dependencies when that command runs: importing the "
                   "whole app (Litestar, face engine, gate) costs ~2.5 s, `smz --help` or `smz nightly` need none of it",
}


def component_of(module: str) -> str:
    """backend.org.controllers → org.web; backend.devices.protocols.jiangmen → devices.gate; else unit_of."""
    unit = unit_of(module)
    parts = module.split(".")
    if parts[0] == "backend" and module.startswith(GATE_ADAPTER):
        return "devices.gate"
    if parts[0] == "backend" and len(parts) >= 3 and parts[2] in WEB_MODULES:
        return f"{unit}.web"
    return unit


def layer_of(component: str) -> str | None:
    if component.endswith(".web"):
        return "adapters"
    for name, members in LAYERS:
        if component in members:
            return name
    return None


LAYER_INDEX = {name: i for i, (name, _members) in enumerate(LAYERS)}


def component_imports(root: Path = ROOT) -> list[Import]:
    """backend → backend imports between different components (type-only imports excluded)."""
    return [
        i for i in all_imports("backend", root=root)
        if i.target.split(".")[0] == "backend" and not i.type_only and unit_of(i.target) != "backend"
        and component_of(i.module) != component_of(i.target)
    ]


def component_graph(imports: list[Import]) -> dict[str, set[str]]:
    g: dict[str, set[str]] = {}
    for i in imports:
        g.setdefault(component_of(i.module), set()).add(component_of(i.target))
        g.setdefault(component_of(i.target), set())
    return g


def upward_imports(imports: list[Import]) -> list[tuple[Import, str, str]]:
    """Imports whose target is in a higher layer (or the same layer, outside the peer layers); unknown
    components are reported too (a new package must be placed in LAYERS)."""
    bad = []
    for i in imports:
        src, dst = component_of(i.module), component_of(i.target)
        ls, ld = layer_of(src), layer_of(dst)
        if ls is None or ld is None:
            bad.append((i, src if ls is None else dst, "not placed in LAYERS"))
            continue
        si, di = LAYER_INDEX[ls], LAYER_INDEX[ld]
        if di > si or (di == si and ls not in PEER_LAYERS):
            bad.append((i, f"{src} ({ls})", f"{dst} ({ld})"))
    return bad


def disallowed_lazy(imports: list[Import]) -> list[Import]:
    return [i for i in imports if i.lazy and i.module not in ALLOWED_LAZY]


def main(argv: list[str]) -> int:
    imports = backend_imports()
    lazy = [i for i in imports if i.lazy]
    g = graph(imports)
    g_eager = graph([i for i in imports if not i.lazy])
    print("# backend package graph (module-level and function-level imports)")
    for unit in sorted(g):
        print(f"{unit:12} -> {', '.join(sorted(g[unit])) or '-'}")
    print()
    print("# pairs that import each other (all imports):", ", ".join(f"{a}<->{b}" for a, b in two_cycles(g)) or "none")
    print("# strongly connected components (all imports):")
    for comp in strongly_connected(g):
        print("  ", " ".join(comp))
    print("# strongly connected components (module-level imports only):")
    for comp in strongly_connected(g_eager):
        print("  ", " ".join(comp))
    print()
    print(f"# function-level `backend` imports of another backend unit: {len(lazy)}")
    for i in lazy:
        print(f"   {i.module}:{i.line} -> {i.target}")
    every_lazy = [i for i in all_imports("backend") if i.lazy and i.target.split(".")[0] == "backend"]
    print(f"# function-level `backend` imports of any kind (same unit included): {len(every_lazy)}")
    if "--edges" in argv:
        print()
        print("# edges")
        for i in sorted(imports, key=lambda i: (i.src_unit, i.dst_unit, i.module, i.line)):
            print(f"   {i.src_unit:12} -> {i.dst_unit:12} {i.module}:{i.line} {i.target}{' (lazy)' if i.lazy else ''}")
    print()
    cimports = component_imports()
    cg = component_graph(cimports)
    print("# component graph (docs/architecture.md: <pkg>.web = controllers/pages/routes, devices.gate = the gate adapter)")
    for comp in sorted(cg, key=lambda c: (LAYER_INDEX.get(layer_of(c) or "", 99), c)):
        print(f"[{layer_of(comp) or '?':11}] {comp:16} -> {', '.join(sorted(cg[comp])) or '-'}")
    print("# component cycles:", strongly_connected(cg) or "none")
    up = upward_imports(cimports)
    print(f"# imports against the layering: {len(up)}")
    for i, src, dst in up:
        print(f"   {i.module}:{i.line} {src} -> {dst}{' (lazy)' if i.lazy else ''}")
    lazy_bad = disallowed_lazy(cimports)
    print(f"# function-level backend imports outside ALLOWED_LAZY: {len(lazy_bad)}")
    for i in lazy_bad:
        print(f"   {i.module}:{i.line} -> {i.target}")
    outside = [
        i for i in all_imports("geofence", "device_tcp") if i.target.split(".")[0] == "backend"
    ]
    print(f"# imports of backend from geofence/ or device_tcp/: {len(outside)}")
    for i in outside:
        print(f"   {i.module}:{i.line} -> {i.target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
