"""jinja2 rendering of email and Slack messages, escaped to fit each channel.

Every template, built-in or from the config, runs in jinja2's immutable sandbox: no
attribute starting with `_` or other Python internal, no call that changes a value.
`check_template` refuses at validate time what the sandbox would refuse at send time.
Every `{{ value }}` goes through `show` (Decimal, datetimes and bytes print
cleanly) and then through the channel's escaping: HTML for the email's HTML part
(autoescape), Slack mrkdwn (`&`, `<`, `>`) for Slack, none for plain text. Literal
template text is never escaped, so templates may use markup. Webhooks never
come here: their JSON is built from data.
"""

from __future__ import annotations

import html
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from jinja2 import nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import (
    UNSAFE_ASYNC_GENERATOR_ATTRIBUTES,
    UNSAFE_COROUTINE_ATTRIBUTES,
    UNSAFE_GENERATOR_ATTRIBUTES,
    ImmutableSandboxedEnvironment,
    modifies_known_mutable,
)

from sqlsentinel.core.decide import NotifyReason
from sqlsentinel.core.event import AlertEvent
from sqlsentinel.core.severity import Severity
from sqlsentinel.errors import SentinelError
from sqlsentinel.notify import template_budget as budget
from sqlsentinel.notify.values import show

if TYPE_CHECKING:
    from sqlsentinel.core.grouped import Notification

TEMPLATE_DIR = Path(__file__).with_name("templates")
STATE_COLORS = {"ALERT": "#d0312d", "ERROR": "#e07b00", "PENDING": "#d4a017", "OK": "#2e9d5b"}
STALE_COLOR = "#6f42c1"  # a `stale` message, whatever the alert's last state
_PRE_HTML = (
    '<html><body><pre style="font-family:inherit;white-space:pre-wrap">{}</pre></body></html>'
)
_HEADLINES = {
    NotifyReason.FIRING: "{alert} is firing",
    NotifyReason.RESOLVED: "{alert} is resolved",
    NotifyReason.ERROR: "{alert}: the check failed",
    NotifyReason.REPEAT: "{alert} is still firing",
    NotifyReason.SILENCE_ENDED: "{alert} is still firing (silence ended)",
    NotifyReason.ESCALATED: "{alert} escalated to {severity}",
    NotifyReason.DEESCALATED: "{alert} deescalated to {severity}",
    NotifyReason.TEST: "Test message for {alert}",
    NotifyReason.STALE: "{alert} missed a scheduled run",
    NotifyReason.RECOVERED: "{alert} is running again",
}
_INTERNAL = (
    {"mro"}
    | UNSAFE_GENERATOR_ATTRIBUTES
    | UNSAFE_COROUTINE_ATTRIBUTES
    | UNSAFE_ASYNC_GENERATOR_ATTRIBUTES
)
_ATTRIBUTE_FILTERS = frozenset({"attr", "selectattr", "rejectattr", "groupby"})  # 1st argument
_MUTABLES: tuple[object, ...] = ([], {}, set())
MAX_POWER_BITS = 4096  # `**` results larger than this are refused (`9 ** 999999999` never ends)
MAX_REPEAT = 100_000  # items or characters `*` may make of a string or a list


class _BoundedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox within a render budget (notify/template_budget.py): operators,
    calls, filters, loops and `~` cannot make values or take time that use up the CPU or
    memory (operators intercepted, so they are not folded at compile time either)."""

    intercepted_binops = frozenset({"**", "*", "+", "%"})
    paced = staticmethod(budget.paced)  # `environment.paced`, wrapped around every loop
    sized = staticmethod(budget.sized)  # `environment.sized`, around every `~`

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        """`left <operator> right`, refused when the result would be too large."""
        if operator == "**" and _too_big_power(left, right):
            raise SecurityError(f"{operator} result over {MAX_POWER_BITS} bits")
        if operator == "*" and _repeat_size(left, right) > MAX_REPEAT:
            raise SecurityError(f"a repeated value over {MAX_REPEAT:,} items")
        if operator == "%" and isinstance(left, str):
            budget.check_percent(left, right)
        return budget.sized(super().call_binop(context, operator, left, right))

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        """A call, counted against the render budget and refused when it would make a value
        over it."""
        budget.step()
        budget.check_call(__obj, args, kwargs)
        return budget.sized(super().call(__context, __obj, *args, **kwargs))

    def call_test(self, name: str, value: Any, *args: Any, **kwargs: Any) -> Any:
        """A test (`select('in', …)` calls one per item), counted against the budget."""
        budget.step()
        return super().call_test(name, value, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Any:
        """`str.format` in the sandbox, with its widths within the render budget."""
        wrapper = super().wrap_str_format(value)
        if wrapper is None:
            return None
        budget.check_format(value.__self__)
        return wrapper

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        return budget.pace_loops(super()._parse(source, name, filename))


def _too_big_power(base: Any, exponent: Any) -> bool:
    if not (isinstance(base, int) and isinstance(exponent, int)) or abs(base) < 2:
        return False
    return exponent > 0 and abs(base).bit_length() * exponent > MAX_POWER_BITS


def _repeat_size(left: Any, right: Any) -> int:
    for seq, times in ((left, right), (right, left)):
        if isinstance(seq, str | list | tuple) and isinstance(times, int):
            return len(seq) * times
    return 0


class TemplateError(SentinelError):
    """A message template could not be rendered."""


def mrkdwn_escape(value: Any) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    text = str(show(value))
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@cache
def _env(kind: str) -> jinja2.Environment:
    finalize = mrkdwn_escape if kind == "slack" else show
    env = _BoundedSandbox(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=kind == "html",
        finalize=finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        undefined=jinja2.ChainableUndefined,
    )
    env.filters["show"] = show
    env.filters = budget.bounded_filters(env.filters)
    env.tests = budget.counted(env.tests)  # type: ignore[assignment,arg-type]
    return env


@cache
def _compile(kind: str, source: str) -> jinja2.Template:
    return _env(kind).from_string(source)


def check_template(text: str) -> str | None:
    """An error message if `text` is not a valid template or does what the sandbox refuses,
    else None (for config validation)."""
    try:
        tree = _env("text").parse(text)
        _env("text").compile(text)
    except jinja2.TemplateSyntaxError as exc:
        return f"template syntax error on line {exc.lineno}: {exc.message}"
    found = tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Filter, nodes.Call))
    # find_all goes outside in; `a.b.c` is refused where the reader meets it first: at `b`
    refusals = [(n.lineno, -i, *_refused(n)) for i, n in enumerate(found)]
    line, _, name, call = min((r for r in refusals if r[2] or r[3]), default=(0, 0, "", ""))
    over = budget.static_problem(tree)
    if over is not None and (not (name or call) or over[0] < line):
        return f"template line {over[0]}: {over[1]}"
    if call:
        return f"template line {line}: calling .{call}() is not allowed: templates change nothing"
    if name:
        return (
            f"template line {line}: {name!r} is not allowed: templates run in a sandbox "
            "without attributes that start with '_' or reach Python internals"
        )
    return None


def _refused(node: nodes.Node) -> tuple[str, str]:
    """A name the sandbox would refuse in `node`, or a method call that changes a value."""
    names: list[str] = []
    if isinstance(node, nodes.Getattr):
        names = [node.attr]
    elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        names = [node.arg.value] if isinstance(node.arg.value, str) else []
    elif isinstance(node, nodes.Filter):
        given = node.args[:1] if node.name in _ATTRIBUTE_FILTERS else []
        given += [kw.value for kw in node.kwargs if kw.key == "attribute"]
        texts = [c.value for c in given if isinstance(c, nodes.Const)]
        names = [part for t in texts if isinstance(t, str) for part in t.split(".")]
    elif isinstance(node, nodes.Call) and isinstance(node.node, nodes.Getattr):
        name = node.node.attr
        if any(modifies_known_mutable(m, name) for m in _MUTABLES):
            return "", name
    return next((n for n in names if n.startswith("_") or n in _INTERNAL), ""), ""


def label(event: Notification) -> str:
    """The tag a message shows in brackets: `STALE` for a missed run, else the state; then
    the severity, unless it is `error` (the default: a config without severities keeps
    its subjects): `ALERT critical`."""
    tag = "STALE" if event.reason is NotifyReason.STALE else event.state
    return tag if event.severity is Severity.ERROR else f"{tag} {event.severity.value}"


def color(event: Notification) -> str:
    """The colour of a message: the state's, or STALE_COLOR for a missed run."""
    if event.reason is NotifyReason.STALE:
        return STALE_COLOR
    return STATE_COLORS.get(event.state, "#808080")


def template_vars(event: AlertEvent) -> dict[str, Any]:
    """The names a template can use (documented in docs/notifications.md)."""
    return {
        "event": event,
        "headline": _HEADLINES[event.reason].format(alert=event.alert, severity=event.severity),
        "alert": event.alert,
        "description": event.description,
        "state": event.state,
        "previous_state": event.previous_state,
        "reason": event.reason.value,
        "severity": event.severity.value,
        "actual_value": event.actual_value,
        "threshold": event.threshold,
        "context": event.context,
        "error": event.error,
        "outcome": event.outcome,
        "occurred_at": event.occurred_at,
        "state_since": event.state_since,
        "tags": event.tags,
        "triggered_by": event.triggered_by,
        "run_id": event.run_id,
        "event_id": event.event_id,
        "dedup_key": event.dedup_key,
        "is_test": event.reason is NotifyReason.TEST,
        "color": color(event),
        "label": label(event),
        "missed_tick": event.missed_tick,
        "last_run_at": event.last_run_at,
    }


def _variables(event: Notification) -> tuple[dict[str, Any], str]:
    """The template variables of `event` and the prefix of its built-in templates."""
    if isinstance(event, AlertEvent):
        return template_vars(event), ""
    from sqlsentinel.notify.grouped_vars import grouped_vars

    shown = {"color": STATE_COLORS.get(event.state, "#808080"), "label": label(event)}
    return {**grouped_vars(event), **shown}, "grouped_"


def _render(kind: str, override: str | None, default: str, event: Notification) -> str:
    variables, prefix = _variables(event)
    try:
        if override:
            template = _compile(kind, override)
        else:
            template = _env(kind).get_template(prefix + default)
        return _within_budget(template, variables).strip()
    except Exception as exc:  # a user template can fail in any way (e.g. 1/0)
        where = "custom template" if override else f"template {prefix}{default}"
        raise TemplateError(f"{where}: {type(exc).__name__}: {exc}") from exc


def _within_budget(template: jinja2.Template, variables: dict[str, Any]) -> str:
    """The rendered text, within the render budget (time, steps, output size)."""
    out: list[str] = []
    size = 0
    with budget.rendering():
        for piece in template.generate(variables):
            size += len(piece)
            if size > budget.MAX_SIZE:
                raise budget.BudgetError(f"an output over {budget.MAX_SIZE:,} characters")
            out.append(piece)
    return "".join(out)


def render_email(
    event: Notification, subject: str | None, body: str | None
) -> tuple[str, str, str]:
    """Subject, plain-text part and HTML part; a `body` override also gives the HTML part."""
    subject_text = " ".join(_render("text", subject, "email_subject.j2", event).split())
    text = _render("text", body, "email.txt.j2", event)
    if body:
        html_part = _PRE_HTML.format(html.escape(text))
    else:
        html_part = _render("html", None, "email.html.j2", event)
    return subject_text, text, html_part


def render_slack(event: Notification, body: str | None) -> str:
    """The Slack message text (mrkdwn)."""
    return _render("slack", body, "slack.txt.j2", event)
