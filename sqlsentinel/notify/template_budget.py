"""What rendering a message template may cost: its output, the values it makes, its time.

A render takes at most RENDER_SECONDS and MAX_STEPS steps (a loop iteration, a call, a
filter); no value it makes (a string, a list) nor its output may hold more than MAX_SIZE
characters or items; and a width, a repeat count or a `lipsum` size over MAX_WIDTH is
refused before it runs, so `ljust(999999999)`, `'%999999999s'|format(x)`, `indent(…)`,
`lipsum(1000000)`, `~` doubling and nested loops all end at once with a BudgetError (a
permanent `template_error` at send time). `static_problem` finds at validate time what
would be refused whatever the data: a constant width over MAX_WIDTH, constant nested
loops over MAX_STEPS.
"""

from __future__ import annotations

import contextlib
import re
import string
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from jinja2 import nodes
from jinja2.exceptions import SecurityError
from jinja2.visitor import NodeTransformer

RENDER_SECONDS = 2.0
MAX_STEPS = 100_000
MAX_SIZE = 1_000_000  # characters of the output or of any string; items of any list
MAX_WIDTH = 10_000  # a width, precision, indent, repeat or count argument
_WIDTH_METHODS = frozenset({"ljust", "rjust", "center", "zfill", "expandtabs"})
_PERCENT = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[a-zA-Z%]")


class BudgetError(SecurityError):
    """A template went over its render budget."""


@dataclass
class _Budget:
    deadline: float
    steps: int = 0


_current: ContextVar[_Budget | None] = ContextVar("template_budget", default=None)


@contextlib.contextmanager
def rendering() -> Iterator[None]:
    """Count the steps and the time of one render."""
    token = _current.set(_Budget(time.monotonic() + RENDER_SECONDS))
    try:
        yield
    finally:
        _current.reset(token)


def step() -> None:
    """One more loop iteration or call of the render under way."""
    budget = _current.get()
    if budget is None:
        return
    budget.steps += 1
    if budget.steps > MAX_STEPS:
        raise BudgetError(f"over {MAX_STEPS:,} loop iterations and calls (the render budget)")
    if budget.steps % 64 == 0 and time.monotonic() > budget.deadline:
        raise BudgetError(f"took longer than {RENDER_SECONDS:g} s (the render budget)")


def sized(value: Any) -> Any:
    """`value`, unless it holds more than MAX_SIZE characters or items."""
    if isinstance(value, str | bytes | list | tuple | dict | set) and len(value) > MAX_SIZE:
        raise BudgetError(f"a value of {len(value):,} characters or items (at most {MAX_SIZE:,})")
    return value


def paced(iterable: Iterable[Any]) -> Iterator[Any]:
    """`iterable`, one step per item."""
    for item in iterable:
        step()
        yield item


def check_width(number: Any, what: str) -> None:
    """Refuse an integer argument over MAX_WIDTH."""
    if isinstance(number, int) and not isinstance(number, bool) and number > MAX_WIDTH:
        raise BudgetError(f"{what}({number}) is over {MAX_WIDTH:,} (the render budget)")


def check_percent(fmt: str, args: Any) -> None:
    """Refuse a `%` format whose widths or precisions (or `*` arguments) exceed MAX_WIDTH."""
    given = list(args) if isinstance(args, tuple | list) else [args]
    for m in _PERCENT.finditer(fmt):
        for part in m.groups():
            if part and part.isdigit():
                check_width(int(part), "a % width")
    for value in given:
        if "*" in fmt:
            check_width(value, "a % * width")


def check_format(fmt: str) -> None:
    """Refuse a `str.format` string with a width or precision over MAX_WIDTH, or one whose
    spec is itself a replacement field (its size would be known only at run time)."""
    for _, _, spec, _ in string.Formatter().parse(fmt):
        if spec and "{" in spec:
            raise BudgetError("a format spec made of a replacement field (the render budget)")
        for number in re.findall(r"\d+", spec or ""):
            check_width(int(number), "a format width")


def check_call(obj: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """Refuse, before it runs, a call that would make a value over the budget."""
    name = getattr(obj, "__name__", "")
    owner = getattr(obj, "__self__", None)
    if isinstance(owner, str) and name in _WIDTH_METHODS:
        for a in (*args, *kwargs.values()):
            check_width(a, name)
    elif isinstance(owner, str) and name == "join" and args:
        check_growth(owner, "join", args[0])
    elif isinstance(owner, str) and name == "replace" and len(args) >= 2:
        check_growth(owner, "replace", args[:2])
    elif name == "generate_lorem_ipsum":  # lipsum(n=5, html=True, min=20, max=100)
        n, most = (args[0] if args else kwargs.get("n", 5)), kwargs.get("max", 100)
        most = args[3] if len(args) > 3 else most
        for a in (n, most):
            check_width(a, "lipsum")
        if isinstance(n, int) and isinstance(most, int) and n * most * 8 > MAX_SIZE:
            raise BudgetError(f"lipsum({n}, max={most}) is over the render budget")


def check_growth(owner: str, name: str, arg: Any) -> None:
    """Refuse `owner.join(arg)` or `owner.replace(*arg)` when the result would be too long."""
    if name == "join":
        parts = [str(p) for p in arg]
        total = sum(map(len, parts)) + len(owner) * max(0, len(parts) - 1)
    else:
        old, new = str(arg[0]), str(arg[1])
        total = len(owner) + (owner.count(old) if old else len(owner) + 1) * len(new)
    if total > MAX_SIZE:
        raise BudgetError(f"{name}() would make {total:,} characters (at most {MAX_SIZE:,})")


_SIZE_FILTERS = frozenset(
    {"center", "indent", "wordwrap", "truncate", "batch", "slice", "tojson", "replace"}
)


def bounded_filters(filters: Mapping[str, Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
    """Every filter counted as a step, its size arguments and its result bounded."""
    return {name: _bounded_filter(name, f) for name, f in filters.items()}


def _bounded_filter(name: str, f: Callable[..., Any]) -> Callable[..., Any]:
    skip = 2 if getattr(f, "jinja_pass_arg", None) is not None else 1  # env/context, value

    def bounded(*args: Any, **kwargs: Any) -> Any:
        step()
        value, rest = (args[skip - 1] if len(args) >= skip else None), args[skip:]
        check_filter(name, value, rest, kwargs)
        return sized(f(*args, **kwargs))

    if hasattr(f, "jinja_pass_arg"):
        bounded.jinja_pass_arg = f.jinja_pass_arg  # type: ignore[attr-defined]
    bounded.__name__ = getattr(f, "__name__", name)
    return bounded


def check_filter(name: str, value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """Refuse a filter call whose arguments would make a value over the budget."""
    if name in _SIZE_FILTERS:
        for a in (*args, *kwargs.values()):
            check_width(a, name)
    if name == "format" and isinstance(value, str):
        check_percent(value, args or tuple(kwargs.values()))
    elif name == "replace" and isinstance(value, str) and len(args) >= 2:
        check_growth(value, "replace", args[:2])
    elif name == "join" and isinstance(value, list | tuple):
        check_growth(str(args[0]) if args else str(kwargs.get("d", "")), "join", value)
    elif name == "indent" and isinstance(value, str):
        width = args[0] if args else kwargs.get("width", 4)
        each = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
        if (value.count("\n") + 1) * each > MAX_SIZE:
            raise BudgetError("indent(...) would make a text over the render budget")


def counted(tests: Mapping[str, Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
    """Every test (`is odd`, `is in`) counted as a step."""

    def count(f: Callable[..., Any]) -> Callable[..., Any]:
        def counted_test(*args: Any, **kwargs: Any) -> Any:
            step()
            return f(*args, **kwargs)

        if hasattr(f, "jinja_pass_arg"):
            counted_test.jinja_pass_arg = f.jinja_pass_arg  # type: ignore[attr-defined]
        return counted_test

    return {name: count(f) for name, f in tests.items()}


class _Paced(NodeTransformer):
    """Loops' items counted as steps, `~` results bounded, in a parsed template."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = _env_call("paced", node.iter, node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return _env_call("sized", node, node.lineno)


def pace_loops(tree: nodes.Template) -> nodes.Template:
    """`tree` with every loop paced and every `~` bounded (see `_Paced`)."""
    paced_tree = _Paced().visit(tree)
    assert isinstance(paced_tree, nodes.Template)
    return paced_tree


def _env_call(name: str, arg: nodes.Node, lineno: int) -> nodes.Call:
    call = nodes.Call(nodes.EnvironmentAttribute(name), [arg], [], None, None)
    call.set_lineno(lineno)
    return call


def static_problem(tree: nodes.Template) -> tuple[int, str] | None:
    """(line, why) of the first thing in a parsed template that goes over the render budget
    whatever the data: a constant size argument, or constant nested loops; else None."""
    for node in tree.find_all((nodes.Filter, nodes.Call, nodes.For, nodes.Mod)):
        try:
            if isinstance(node, nodes.For):
                _check_loop_steps(node)
            elif isinstance(node, nodes.Mod) and isinstance(node.left, nodes.Const):
                if isinstance(node.left.value, str) and isinstance(node.right, nodes.Const):
                    check_percent(node.left.value, node.right.value)
            elif isinstance(node, nodes.Filter | nodes.Call):
                _check_constants(node)
        except BudgetError as exc:
            return node.lineno, str(exc)
    return None


def _consts(
    args: list[nodes.Expr], kwargs: Sequence[Any]
) -> tuple[tuple[Any, ...], dict[str, Any]] | None:
    if not all(isinstance(a, nodes.Const) for a in (*args, *(k.value for k in kwargs))):
        return None
    values = tuple(a.value for a in args if isinstance(a, nodes.Const))
    return values, {k.key: k.value.value for k in kwargs if isinstance(k.value, nodes.Const)}


def _check_constants(node: nodes.Filter | nodes.Call) -> None:
    given = _consts(node.args, node.kwargs)
    if given is None:
        return
    args, kwargs = given
    if isinstance(node, nodes.Filter):
        value = node.node.value if isinstance(node.node, nodes.Const) else None
        check_filter(node.name, value, args, kwargs)
        return
    callee = node.node
    if isinstance(callee, nodes.Getattr) and isinstance(callee.node, nodes.Const):
        owner = callee.node.value
        if isinstance(owner, str) and callee.attr == "format":
            check_format(owner)
        elif isinstance(owner, str) and hasattr(owner, callee.attr):
            check_call(getattr(owner, callee.attr), args, kwargs)
    elif isinstance(callee, nodes.Getattr) and callee.attr in _WIDTH_METHODS:
        for a in (*args, *kwargs.values()):
            check_width(a, callee.attr)
    elif isinstance(callee, nodes.Name) and callee.name == "lipsum":
        from jinja2.utils import generate_lorem_ipsum

        check_call(generate_lorem_ipsum, args, kwargs)


def _range_size(loop: nodes.For) -> int:
    """Items of a loop over `range(<constants>)` (seen through `paced`), else 1."""
    it = loop.iter
    if isinstance(it, nodes.Call) and isinstance(it.node, nodes.EnvironmentAttribute):
        it = it.args[0]
    if not (isinstance(it, nodes.Call) and isinstance(it.node, nodes.Name)):
        return 1
    given = _consts(it.args, it.kwargs)
    if it.node.name != "range" or given is None or given[1]:
        return 1
    try:
        return len(range(*given[0]))
    except (TypeError, ValueError, OverflowError):
        return 1


def _check_loop_steps(loop: nodes.For) -> None:
    """Refuse constant nested loops over MAX_STEPS in all (checked from the outermost)."""

    def steps(node: nodes.For) -> int:
        inner = [steps(n) for n in node.body if isinstance(n, nodes.For)]
        inner += [steps(f) for n in node.body if not isinstance(n, nodes.For)
                  for f in n.find_all(nodes.For)]  # fmt: skip
        return _range_size(node) * max([1, *inner])

    total = steps(loop)
    if total > MAX_STEPS:
        raise BudgetError(f"loops of {total:,} iterations (the render budget: {MAX_STEPS:,})")
