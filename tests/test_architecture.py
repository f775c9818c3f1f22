"""The house rules of docs/architecture.md, checked from the source: the import floors, no
import cycles, small functions and modules, one home for every default."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from sqlsentinel.core import spec
from sqlsentinel.notify.channels import CHANNELS

PACKAGE = Path(__file__).resolve().parent.parent / "sqlsentinel"
DOCS = PACKAGE.parent / "docs"
# Each room may import the rooms listed (and itself). Leaves are the small top-level helpers.
LEAF = "leaf"
ALLOWED: dict[str, set[str]] = {
    LEAF: set(),
    "core": {LEAF},
    "schedule": {"core", LEAF},
    "state": {"core", LEAF},
    "notify": {"core", "state", LEAF},
    "config": {"core", "schedule", "notify", LEAF},
    "applied": {"core", "schedule", "state", "config", LEAF},
    "engine": {"core", "schedule", "state", "notify", "config", LEAF},
    "systemd": {"core", "schedule", "config", "applied", LEAF},
    "daemon": {
        "core", "schedule", "state", "notify", "config", "applied", "engine", "systemd", LEAF,
    },
    "cli": {
        "core", "schedule", "state", "notify", "config", "applied", "engine", "systemd", "daemon",
        LEAF,
    },
}  # fmt: skip
MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 400


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


MODULES = _modules()


def _room(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1 or parts[1] == "__main__":
        return "cli" if module.endswith("__main__") else LEAF
    return parts[1] if parts[1] in ALLOWED else LEAF


def _imports(path: Path) -> Iterator[str]:
    """Every sqlsentinel module `path` imports, at any depth (functions, TYPE_CHECKING)."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
        else:
            continue
        for name in names:
            if name.startswith("sqlsentinel"):
                while name not in MODULES and "." in name:
                    name = name.rsplit(".", 1)[0]
                yield name


GRAPH = {m: set(_imports(p)) - {m} for m, p in MODULES.items()}


def test_every_import_goes_down_the_floors() -> None:
    wrong = sorted(
        f"{m} ({_room(m)}) imports {target} ({_room(target)})"
        for m, targets in GRAPH.items()
        for target in targets
        if _room(target) != _room(m) and _room(target) not in ALLOWED[_room(m)]
    )
    assert wrong == []


def test_no_import_cycles_between_modules() -> None:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    assert cycles == []


def test_the_core_imports_nothing_else_of_the_package() -> None:
    assert {t for m, ts in GRAPH.items() if _room(m) == "core" for t in ts} <= {
        *(m for m in MODULES if _room(m) in {"core", LEAF})
    }


def test_functions_and_modules_are_small() -> None:
    long_functions = []
    long_modules = []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text())
        lines = len(path.read_text().splitlines())
        if lines > MAX_MODULE_LINES:
            long_modules.append(f"{module}: {lines} lines")
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                size = (node.end_lineno or node.lineno) - node.lineno + 1
                if size > MAX_FUNCTION_LINES:
                    long_functions.append(f"{module}.{node.name}: {size} lines")
    assert long_functions == [] and long_modules == []


def _doc_table_defaults(doc: Path, heading: str) -> dict[str, str]:
    """Key -> Default column of the first table under `heading` in `doc`."""
    section = doc.read_text().split(f"\n{heading}\n", 1)[1]
    table = section[section.index("\n|") :].split("\n\n", 1)[0]
    rows = re.findall(r"^\| `([a-z_]+)` \| (?:[^|]|\\\|)+? \| ([^|]+) \|", table, re.M)
    return {key: default.strip() for key, default in rows}


def _shown(value: object) -> str:
    """How docs/configuration.md writes a default value."""
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float) and value.is_integer():
        seconds = int(value)
        return f"`{seconds}s`" if seconds < 86400 else f"`{seconds // 86400}d`"
    if isinstance(value, tuple | list):
        return "`[]`" if not value else str(value)
    if isinstance(value, dict):
        return "`{}`" if not value else str(value)
    return f"`{value}`"


def _defaults(cls: type | str) -> dict[str, object]:
    if isinstance(cls, type):
        return spec.defaults_of(cls)
    import importlib

    module = importlib.import_module(f"sqlsentinel.notify.channels.{cls}")
    options = next(v for k, v in vars(module).items() if k.endswith("Options"))
    return spec.defaults_of(options)


CASES: list[tuple[str, type | str, dict[str, str]]] = [
    ("## Alerts", spec.AlertSpec, {"for": "for_"}),
    ("## SMTP", spec.SmtpSpec, {"use_tls": "starttls"}),
    ("## Notify entries", spec.TargetSpec, {}),
    ("## Receivers and the policy", spec.RouteRule, {"continue": "continue_"}),
    *((f"### `channel: {name}`", name, {}) for name in CHANNELS),
]


@pytest.mark.parametrize(("heading", "cls", "renamed"), CASES, ids=[c[0] for c in CASES])
def test_documented_defaults_are_the_core_defaults(
    heading: str, cls: type | str, renamed: dict[str, str]
) -> None:
    """A default the docs show is the default core.spec (or the channel module) gives; where
    the code has none (None), the docs describe what happens instead of showing a value."""
    defaults = _defaults(cls)
    if cls is spec.TargetSpec:
        defaults["timeout"] = spec.DEFAULT_ATTEMPT_TIMEOUT
    documented = _doc_table_defaults(DOCS / "configuration.md", heading)
    checked = [key for key in documented if renamed.get(key, key) in defaults]
    for key in checked:
        shown, value = documented[key], defaults[renamed.get(key, key)]
        if value is None:
            assert "`" not in shown, f"{heading} {key}: docs show {shown}, the code has none"
        else:
            assert shown.startswith(_shown(value)), f"{heading} {key}: {shown} != {value!r}"
    assert checked


DELIVERY_WORDS = {"pending", "delivered", "failed", "superseded", "abandoned", "sending",
                  "retryable", "permanent"}  # fmt: skip
DELIVERY_ROOMS = ("notify", "state", "engine", "daemon")


def test_delivery_statuses_and_outcomes_are_named_in_core_only() -> None:
    """A notification's status and an attempt's outcome are `core.delivery` StrEnums: no
    module of the delivery path spells one as a string, in code or in SQL."""
    found = []
    for module, path in MODULES.items():
        if _room(module) not in DELIVERY_ROOMS:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
                continue
            words = {node.value} | set(re.findall(r"'(\w+)'", node.value))
            if words & DELIVERY_WORDS:
                found.append(f"{module}:{node.lineno}: {node.value!r}")
    assert found == []
