"""No mutable service state in module globals of backend/ (issue 12 step 5).

Every stateful service lives in the app's ``backend.runtime.AppServices``: built once per app in its lifespan,
handed to handlers (``Provide``), the gate server and the CLI, closed at shutdown — and a test builds its own.
This test reads backend/ with ``ast`` and fails on what would bring module state back:

- a ``global`` statement (a module variable rebound at run time: counters, lazy singletons);
- a module-level ``name: T | None = None`` (the lazy-singleton pattern);
- a module-level empty mutable container (``[]``, ``{}``, ``set()``, ``deque()`` …: an accumulator);
- a module-level lock/event/queue/context variable, or an object of a service-like class (``…Service``,
  ``…Runner``, ``…Limiter``, ``…Hub``, ``…Feed``, ``…Registry``, ``…Matrix``, ``…Cache`` …).

Constants and pure tables (dicts of labels, tuples, compiled regexes, frozen rule objects, loggers) are fine.
What remains is in ``ALLOWED`` below, each with the reason it may stay.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BACKEND = ROOT / "backend"

# Containers: flagged when made empty (an accumulator); ``list(KEY_POSTS)`` is a table, not state.
CONTAINER_CALLS = frozenset({
    "set", "dict", "list", "defaultdict", "deque", "OrderedDict", "Counter", "WeakSet", "WeakValueDictionary",
    "WeakKeyDictionary",
})
# Synchronisation and per-context state: always flagged at module level.
STATE_CALLS = frozenset({"Event", "Lock", "RLock", "Semaphore", "BoundedSemaphore", "Condition", "Queue",
                         "ContextVar"})
SERVICE_LIKE = re.compile(
    r"(Service|Runner|Limiter|Hub|Feed|Bridge|Registry|Matrix|Changes|Sender|Window|Lru|Cache|Pool|Executor|Server"
    r"|Tasks)$")

# (module path under the repository, name) → why it may stay a module global.
ALLOWED: dict[tuple[str, str], str] = {
    ("backend/fences/services/versions.py", "_FENCES"):
        "bounded LRU of built fences keyed by (fence id, version): a fence version is never changed once "
        "written, so an entry can never be stale; it only saves rebuilding geometry (same answer without it)",
    ("backend/fences/services/versions.py", "_INDEXES"):
        "bounded LRU of fence indexes keyed by the tuple of (fence id, version) they are built from: "
        "immutable input, same answer without it",
    ("backend/fences/services/versions.py", "_FEATURES"):
        "bounded LRU of map GeoJSON keyed by (fence id, version, crs): immutable input, same answer without it",
    ("backend/accounts/principals.py", "_CACHES"):
        "weak references to the who-is-asking caches of the process's apps (each cache belongs to its app's "
        "AppServices and leaves with it): an account change made by any code of the process must reach every "
        "cache at once (logout, password change, deactivation); the set holds no account data itself",
    ("backend/workforce/services.py", "ROSTER_CACHE"):
        "bounded LRU of roster reads, each served only while the project's roster_version (moved by database "
        "triggers on every change of what the roster shows, whoever writes it) is the one it was read at: never "
        "stale across a change or a process, so every app in the process may share it (issue 18)",
    ("backend/crew/enrolment.py", "_MATRIX"):
        "the 1:N face matrix is a cache of the database's templates, checked against the version row "
        "crew_face_index on every use (reloaded when another request or process enrolled someone), so every "
        "app in the process may share it; it holds no connection, process or task",
}


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _why_flagged(value: ast.expr | None, annotated: bool) -> str | None:
    if value is None:
        return None
    if isinstance(value, ast.Constant) and value.value is None and annotated:
        return "a lazy singleton (name: T | None = None)"
    if isinstance(value, ast.List | ast.Set) and not value.elts:
        return "an empty mutable container"
    if isinstance(value, ast.Dict) and not value.keys:
        return "an empty mutable container"
    if isinstance(value, ast.Call):
        callee = _name(value.func)
        if callee in STATE_CALLS:
            return f"a module-level {callee}()"
        if callee in CONTAINER_CALLS and (not value.args or (callee == "defaultdict" and len(value.args) == 1)):
            return f"an empty {callee}()"
        if callee and SERVICE_LIKE.search(callee):
            return f"a service object ({callee})"
    return None


def _module_statements(body: list[ast.stmt]) -> list[ast.stmt]:
    """The module's top-level statements, looking into module-level if/try/with blocks."""
    out: list[ast.stmt] = []
    for node in body:
        out.append(node)
        if isinstance(node, ast.If | ast.With):
            out.extend(_module_statements(node.body))
            if isinstance(node, ast.If):
                out.extend(_module_statements(node.orelse))
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                out.extend(_module_statements(block))
    return out


def _targets(node: ast.stmt) -> list[str]:
    if isinstance(node, ast.Assign):
        return [t.id for t in node.targets if isinstance(t, ast.Name)]
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return [node.target.id]
    return []


def scan(root: Path = BACKEND, base: Path = ROOT) -> list[tuple[str, str, int, str]]:
    """(module, name, line, why) of every finding under ``root`` (migrations excluded); modules are named
    relative to ``base``."""
    found: list[tuple[str, str, int, str]] = []
    for path in sorted(root.rglob("*.py")):
        if "piccolo_migrations" in path.parts:
            continue
        rel = path.relative_to(base).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=rel)
        for node in ast.walk(tree):
            if isinstance(node, ast.Global):
                found += [(rel, n, node.lineno, "a global statement") for n in node.names]
        for node in _module_statements(tree.body):
            if not isinstance(node, ast.Assign | ast.AnnAssign):
                continue
            why = _why_flagged(node.value, isinstance(node, ast.AnnAssign))
            if why:
                found += [(rel, n, node.lineno, why) for n in _targets(node)]
    return found


def test_backend_keeps_no_service_state_in_module_globals() -> None:
    offending = [f"{m}:{line} {name}: {why}" for m, name, line, why in scan() if (m, name) not in ALLOWED]
    assert not offending, (
        "module-level service state (put it in backend.runtime.AppServices and hand it in; or, if it truly "
        "must stay, add it to ALLOWED with the reason):\n" + "\n".join(offending))


def test_every_allowed_item_still_exists_and_says_why() -> None:
    present = {(m, name) for m, name, _line, _why in scan()}
    stale = sorted(set(ALLOWED) - present)
    assert not stale, f"ALLOWED names module state that is gone (remove it from the list): {stale}"
    assert all(len(why) > 40 for why in ALLOWED.values())


def test_the_scan_finds_each_kind_of_module_state(tmp_path: Path) -> None:
    """The detector itself: each pattern this test exists to refuse is found; constants are not."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "bad.py").write_text(
        "import asyncio\nfrom collections import deque\n"
        "_limiter: object | None = None\n"
        "_subscribers: set[int] = set()\n"
        "_seen = {}\n"
        "_queue = deque()\n"
        "_ready = asyncio.Event()\n"
        "hub = Hub()\n"
        "_counter = 0\n"
        "def bump():\n    global _counter\n    _counter += 1\n",
        encoding="utf-8")
    (pkg / "good.py").write_text(
        "import logging, re\n"
        "log = logging.getLogger('x')\n"
        "LABELS = {'a': '甲'}\n"
        "CODES = ('a', 'b')\n"
        "PATTERN = re.compile('x')\n"
        "LIMIT: int = 5\n",
        encoding="utf-8")
    found = {(m, name) for m, name, _line, _why in scan(pkg, tmp_path)}
    assert found == {("pkg/bad.py", n) for n in ("_limiter", "_subscribers", "_seen", "_queue", "_ready", "hub",
                                               "_counter")}
