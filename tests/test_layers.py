"""The import rules of DESIGN.md, checked on the source: layers run one way, the sandbox stays
out of the product, no module takes part in an import cycle, and no import hides inside a
function unless it is listed below with its reason.

Layers: `queueing` is the ground and imports neither `recipients` nor `campaigns`;
`recipients` may import `queueing`; `campaigns` may import both; `mailhub` wires them. Every
`import` and `from … import` counts, at module level and inside functions (relative imports
resolved), because an import inside a function is still a dependency: moving it there only
hides a cycle from Python, not from the design. So do imports under `if TYPE_CHECKING:`: a
type from a higher layer is still a dependency on it.

Read with `ast`, nothing is imported, so a broken module cannot make the check pass or fail
for the wrong reason.
"""

import ast
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("audit", "mailhub", "queueing", "recipients", "campaigns", "sandbox")
SKIPPED_DIRS = {"migrations", "tests", "__pycache__"}

# From the ground up: a module may import its own layer and the ones before it, never after.
LAYERS = ("audit", "queueing", "recipients", "campaigns")
# The development tool. `queueing.sandbox` is where it lived before it became a package of
# its own; the entry matters only while that folder exists.
SANDBOX = ("sandbox", "queueing.sandbox")

# Imports inside functions that are there for a reason, by (importer, imported); `imported`
# also covers the modules below it (`psycopg` covers `psycopg.adapt`).
ALLOWED_IN_FUNCTIONS: dict[tuple[str, str], str] = {
    # Django's place for wiring: AppConfig.ready runs once every app is loaded.
    ("mailhub.apps", "mailhub.checks"): "registers the system checks",
    ("mailhub.apps", "mailhub.postgres_timestamps"): "connects the PostgreSQL loader",
    ("mailhub.apps", "mailhub.roles"): "connects the roles' sync to post_migrate",
    ("campaigns.apps", "campaigns.receivers"): "connects the counters to queueing's signal",
    ("campaigns.apps", "campaigns.reconciler"): "registers the campaigns reconcile step",
    ("campaigns.apps", "campaigns.rendering"): "registers the late renderer",
    ("campaigns.apps", "campaigns.api_templates"): "registers the API's template renderer",
    ("campaigns.apps", "campaigns.event_stats"): "registers the provider-event listener",
    (
        "campaigns.apps",
        "campaigns.selectors",
    ): "registers the campaign names for the messages filter",
    ("campaigns.apps", "queueing.hooks"): "fills in queueing's hooks",
    ("recipients.apps", "queueing.hooks"): "fills in queueing's hooks",
    ("queueing.apps", "queueing.hooks"): "registers queueing's own reconcile step",
    ("queueing.apps", "queueing.api_idempotency"): "purges expired API idempotency keys",
    ("queueing.apps", "queueing.retention"): "registers the periodic purge step",
    ("queueing.apps", "queueing.forwarding"): (
        "registers the webhook forwarding listener and its reconcile step"
    ),
    ("recipients.apps", "recipients.selectors"): "registers the suppression check",
    ("recipients.apps", "recipients.imports.reconcile"): "registers the imports reconcile step",
    ("recipients.apps", "recipients.event_rules"): "registers the suppression rules' listener",
    ("recipients.apps", "recipients.soft_bounces"): "registers the soft-bounce purge step",
    ("mailhub.postgres_timestamps", "psycopg"): "the driver, imported only on PostgreSQL",
    ("queueing.bulk_sql", "psycopg"): "the driver, imported only on PostgreSQL",
    # (the command's home once the sandbox is a package of its own)
    ("mailhub.management.commands.resend_sandbox", "sandbox"): (
        "the development tool, loaded only when its command runs"
    ),
}

# Today's violations, each exactly (importer, imported), being fixed: delete an entry when
# its import is gone (test_pending_entries_are_still_violations says which). A cycle is
# pending when one of its edges is listed here.
PENDING: set[tuple[str, str]] = set()


@dataclass(frozen=True)
class Module:
    name: str  # dotted, e.g. "campaigns.services.sending"; a package is named by its folder
    path: str  # relative to the repository, for messages
    is_package: bool
    source: str


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str  # a walked module (the deepest one the name reaches), else the name as written
    path: str
    line: int
    in_function: bool


@dataclass(frozen=True)
class Problem:
    rule: str
    edges: tuple[tuple[str, str], ...]  # the import(s) it is about; a cycle has several
    where: str  # path:line of the first import
    text: str

    def __str__(self) -> str:
        return f"{self.where}: [{self.rule}] {self.text}"


# --- reading ----------------------------------------------------------------------------------


def read_modules(root: Path) -> list[Module]:
    modules = []
    for package in PACKAGES:
        if not (root / package / "__init__.py").exists():
            continue
        for path in sorted((root / package).rglob("*.py")):
            relative = path.relative_to(root)
            if SKIPPED_DIRS.intersection(relative.parts[:-1]):
                continue
            parts = list(relative.with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts.pop()
            modules.append(
                Module(".".join(parts), relative.as_posix(), is_package, path.read_text())
            )
    return modules


def _absolute(module: Module, name: str | None, level: int) -> str:
    """The dotted name a `from` import names, with a relative one (level dots) resolved."""
    if level == 0:
        return name or ""
    package = module.name if module.is_package else module.name.rpartition(".")[0]
    parts = package.split(".")
    base = ".".join(parts[: len(parts) - (level - 1)])
    return ".".join(part for part in (base, name) if part)


def _deepest_known(name: str, known: set[str]) -> str | None:
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in known:
            return ".".join(parts[:end])
    return None


FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


def find_imports(modules: Iterable[Module]) -> list[Import]:
    modules = list(modules)
    known = {module.name for module in modules}
    found: list[Import] = []

    def visit(module: Module, node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            names: list[str] = []
            if isinstance(child, ast.Import):
                names = [_deepest_known(a.name, known) or a.name for a in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = _absolute(module, child.module, child.level)
                for alias in child.names:
                    # `from package import module` names the module; otherwise an attribute
                    # of `base`, which is the module depended on.
                    target = f"{base}.{alias.name}"
                    names.append(target if target in known else _deepest_known(base, known) or base)
            for name in dict.fromkeys(names):
                found.append(Import(module.name, name, module.path, child.lineno, in_function))
            visit(module, child, in_function or isinstance(child, FUNCTIONS))

    for module in modules:
        visit(module, ast.parse(module.source, module.path), False)
    return found


# --- the rules --------------------------------------------------------------------------------


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _is_sandbox(name: str) -> bool:
    return any(_within(name, prefix) for prefix in SANDBOX)


def _layer(name: str) -> int | None:
    top = name.partition(".")[0]
    return LAYERS.index(top) if top in LAYERS else None


def _edge_problems(imp: Import, allowed: Mapping[tuple[str, str], str]) -> list[Problem]:
    edge = ((imp.importer, imp.imported),)
    where = f"{imp.path}:{imp.line}"
    problems = []
    if _is_sandbox(imp.importer):
        return problems  # the tool itself is not product code
    low, high = _layer(imp.importer), _layer(imp.imported)
    if low is not None and high is not None and high > low:
        problems.append(
            Problem(
                "layers",
                edge,
                where,
                f"{imp.importer} imports {imp.imported}: {LAYERS[low]} may not import "
                f"{LAYERS[high]} (layers, ground first: {', '.join(LAYERS)})",
            )
        )
    if low is not None and _is_sandbox(imp.imported):
        problems.append(
            Problem(
                "sandbox",
                edge,
                where,
                f"{imp.importer} imports {imp.imported}: product code may not import the sandbox",
            )
        )
    if imp.in_function and not any(
        importer == imp.importer and _within(imp.imported, imported)
        for importer, imported in allowed
    ):
        problems.append(
            Problem(
                "import in function",
                edge,
                where,
                f"{imp.importer} imports {imp.imported} inside a function: move it to the top, "
                "or list it in ALLOWED_IN_FUNCTIONS with its reason",
            )
        )
    return problems


def _graph(imports: Iterable[Import]) -> dict[str, dict[str, Import]]:
    """Module → module it imports → the first such import (for the message)."""
    imports = list(imports)
    # A module that imports nothing of ours cannot be on a cycle, so it needs no node.
    graph: dict[str, dict[str, Import]] = {imp.importer: {} for imp in imports}
    for imp in imports:
        if imp.imported in graph and imp.imported != imp.importer:
            graph[imp.importer].setdefault(imp.imported, imp)
    return graph


def _knots(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    knots = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                knots.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return sorted(knots)


def _shortest_cycle(graph: Mapping[str, Iterable[str]], start: str, members: set[str]) -> list[str]:
    """start → … → start, the fewest steps, within one knot."""
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for nxt in sorted(graph[node]):
            if nxt not in members:
                continue
            if nxt == start:
                path = [node]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [*reversed(path), start]
            if nxt not in came_from:
                came_from[nxt] = node
                queue.append(nxt)
    raise AssertionError(f"{start} is in a knot but on no cycle")


def _cycle_problems(imports: Iterable[Import], pending: set[tuple[str, str]]) -> list[Problem]:
    graph = _graph(imports)
    unmasked = {
        node: {nxt: imp for nxt, imp in targets.items() if (node, nxt) not in pending}
        for node, targets in graph.items()
    }
    problems = []
    for knot in _knots(unmasked):
        path = _shortest_cycle(unmasked, knot[0], set(knot))
        steps = [unmasked[a][b] for a, b in pairwise(path)]
        described = " -> ".join(f"{imp.importer} ({imp.path}:{imp.line})" for imp in steps)
        others = f"; {len(knot)} modules in this knot" if len(knot) > len(path) - 1 else ""
        problems.append(
            Problem(
                "cycle",
                tuple((imp.importer, imp.imported) for imp in steps),
                f"{steps[0].path}:{steps[0].line}",
                f"{described} -> {path[-1]}{others}",
            )
        )
    return problems


def find_problems(
    imports: Iterable[Import],
    *,
    allowed: Mapping[tuple[str, str], str],
    pending: set[tuple[str, str]],
) -> list[Problem]:
    """Every broken rule, except those on an import listed as pending."""
    imports = list(imports)
    problems = [
        problem
        for imp in imports
        if (imp.importer, imp.imported) not in pending
        for problem in _edge_problems(imp, allowed)
    ]
    return problems + _cycle_problems(imports, pending)


def stale_pending(
    imports: Iterable[Import],
    *,
    allowed: Mapping[tuple[str, str], str],
    pending: set[tuple[str, str]],
) -> set[tuple[str, str]]:
    """Entries of `pending` that no longer break a rule (the import is gone or became fine)."""
    imports = list(imports)
    broken = {edge for imp in imports for p in _edge_problems(imp, allowed) for edge in p.edges}
    graph = _graph(imports)
    for knot in _knots(graph):
        members = set(knot)
        broken |= {(a, b) for a in knot for b in graph[a] if b in members}
    return pending - broken


# --- the tests --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def project_imports() -> list[Import]:
    modules = read_modules(ROOT)
    assert {"queueing", "recipients", "campaigns", "mailhub"} <= {m.name for m in modules}
    return find_imports(modules)


def test_imports_follow_the_layers(project_imports: list[Import]) -> None:
    problems = find_problems(project_imports, allowed=ALLOWED_IN_FUNCTIONS, pending=PENDING)
    if problems:
        pytest.fail("\n".join(sorted(map(str, problems))), pytrace=False)


def test_pending_entries_are_still_violations(project_imports: list[Import]) -> None:
    stale = stale_pending(project_imports, allowed=ALLOWED_IN_FUNCTIONS, pending=PENDING)
    assert not stale, f"fixed, delete from PENDING: {sorted(stale)}"


def _module(name: str, source: str, *, package: bool = False) -> Module:
    path = name.replace(".", "/") + ("/__init__.py" if package else ".py")
    return Module(name, path, package, source)


# Small made-up packages that break each rule once (and import correctly otherwise).
SYNTHETIC = [
    _module("queueing", "", package=True),
    _module("queueing.core", "from . import helpers\nfrom campaigns.models import Campaign\n"),
    _module("queueing.helpers", "def later():\n    from .core import thing\n"),
    _module("recipients", "", package=True),
    _module("recipients.lists", "import sandbox.server\n"),
    _module("campaigns", "", package=True),
    _module("campaigns.models", "import queueing.core\nfrom recipients import lists\n"),
    _module("campaigns.services", "from .sending import send\n", package=True),
    _module("campaigns.services.sending", "from ..models import Campaign\n"),
    _module("sandbox", "", package=True),
    _module("sandbox.server", "from queueing.core import thing\n\n\ndef f():\n    import random\n"),
    _module(
        "mailhub",
        "async def ready():\n    import psycopg.pq\n    from campaigns import services\n",
        package=True,
    ),
]
ALLOW_PSYCOPG = {("mailhub", "psycopg"): "the driver"}


def test_the_walker_resolves_every_kind_of_import() -> None:
    found = {(i.importer, i.imported, i.in_function) for i in find_imports(SYNTHETIC)}
    assert found == {
        ("queueing.core", "queueing.helpers", False),  # from . import module
        ("queueing.core", "campaigns.models", False),  # from module import name
        ("queueing.helpers", "queueing.core", True),  # from .module import name, in a function
        ("recipients.lists", "sandbox.server", False),  # import a.b
        ("campaigns.models", "queueing.core", False),
        ("campaigns.models", "recipients.lists", False),  # from package import module
        ("campaigns.services", "campaigns.services.sending", False),  # in a package's __init__
        ("campaigns.services.sending", "campaigns.models", False),  # from ..module import name
        ("sandbox.server", "queueing.core", False),
        ("sandbox.server", "random", True),
        ("mailhub", "psycopg.pq", True),  # outside the project: as written
        ("mailhub", "campaigns.services", True),
    }


def test_the_walker_catches_each_rule() -> None:
    problems = find_problems(find_imports(SYNTHETIC), allowed=ALLOW_PSYCOPG, pending=set())
    assert {(p.rule, p.where, p.edges) for p in problems} == {
        ("layers", "queueing/core.py:2", (("queueing.core", "campaigns.models"),)),
        ("import in function", "queueing/helpers.py:2", (("queueing.helpers", "queueing.core"),)),
        ("sandbox", "recipients/lists.py:1", (("recipients.lists", "sandbox.server"),)),
        ("import in function", "mailhub/__init__.py:3", (("mailhub", "campaigns.services"),)),
        (
            "cycle",
            "campaigns/models.py:1",
            (("campaigns.models", "queueing.core"), ("queueing.core", "campaigns.models")),
        ),
    }
    [cycle] = [p for p in problems if p.rule == "cycle"]
    assert cycle.text == (
        "campaigns.models (campaigns/models.py:1) -> queueing.core (queueing/core.py:2) "
        "-> campaigns.models; 5 modules in this knot"
    )


def test_pending_silences_exactly_its_imports() -> None:
    imports = find_imports(SYNTHETIC)
    pending = {("queueing.core", "campaigns.models"), ("recipients.lists", "sandbox.server")}
    problems = find_problems(imports, allowed=ALLOW_PSYCOPG, pending=pending)
    # Without the layer break, the function-level import still closes a smaller cycle.
    assert sorted(map(str, problems)) == [
        "mailhub/__init__.py:3: [import in function] mailhub imports campaigns.services inside "
        "a function: move it to the top, or list it in ALLOWED_IN_FUNCTIONS with its reason",
        "queueing/core.py:1: [cycle] queueing.core (queueing/core.py:1) -> queueing.helpers "
        "(queueing/helpers.py:2) -> queueing.core",
        "queueing/helpers.py:2: [import in function] queueing.helpers imports queueing.core "
        "inside a function: move it to the top, or list it in ALLOWED_IN_FUNCTIONS with its "
        "reason",
    ]
    fine = ("campaigns.services", "campaigns.services.sending")
    assert stale_pending(imports, allowed=ALLOW_PSYCOPG, pending={*pending, fine, ("a", "b")}) == {
        fine,
        ("a", "b"),
    }
