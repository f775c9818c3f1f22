"""jinja2 rendering of email and Slack messages, escaped to fit each channel.

Every `{{ value }}` goes through `show` (Decimal, datetimes and bytes print
cleanly) and then through the channel's escaping: HTML for the email's HTML part
(autoescape), Slack mrkdwn (`&`, `<`, `>`) for Slack, none for plain text. Literal
template text is never escaped, so templates may use markup. Webhooks never
come here: their JSON is built from data.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from datetime import date, time
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from sqlsentinel.core.decide import NotifyReason
from sqlsentinel.core.event import AlertEvent
from sqlsentinel.errors import SentinelError
from sqlsentinel.jsonsafe import dumps, to_jsonable

TEMPLATE_DIR = Path(__file__).with_name("templates")
STATE_COLORS = {"ALERT": "#d0312d", "ERROR": "#e07b00", "PENDING": "#d4a017", "OK": "#2e9d5b"}
_PRE_HTML = (
    '<html><body><pre style="font-family:inherit;white-space:pre-wrap">{}</pre></body></html>'
)
_HEADLINES = {
    NotifyReason.FIRING: "{alert} is firing",
    NotifyReason.RESOLVED: "{alert} is resolved",
    NotifyReason.ERROR: "{alert}: the check failed",
    NotifyReason.REPEAT: "{alert} is still firing",
    NotifyReason.SILENCE_ENDED: "{alert} is still firing (silence ended)",
    NotifyReason.TEST: "Test message for {alert}",
}


class TemplateError(SentinelError):
    """A message template could not be rendered."""


def show(value: Any) -> Any:
    """A query value as message text; strings (and markup) pass through unchanged."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping | list | tuple | set):
        return dumps(value)
    if isinstance(value, bytes | bytearray | memoryview | date | time):
        return str(to_jsonable(value))
    return str(value)


def mrkdwn_escape(value: Any) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    text = str(show(value))
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@cache
def _env(kind: str) -> jinja2.Environment:
    finalize = mrkdwn_escape if kind == "slack" else show
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=kind == "html",
        finalize=finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        undefined=jinja2.ChainableUndefined,
    )
    env.filters["show"] = show
    return env


@cache
def _compile(kind: str, source: str) -> jinja2.Template:
    return _env(kind).from_string(source)


def check_template(text: str) -> str | None:
    """An error message if `text` is not a valid template, else None (for config validation)."""
    try:
        _env("text").compile(text)
    except jinja2.TemplateSyntaxError as exc:
        return f"template syntax error on line {exc.lineno}: {exc.message}"
    return None


def template_vars(event: AlertEvent) -> dict[str, Any]:
    """The names a template can use (documented in docs/notifications.md)."""
    return {
        "event": event,
        "headline": _HEADLINES[event.reason].format(alert=event.alert),
        "alert": event.alert,
        "description": event.description,
        "state": event.state,
        "previous_state": event.previous_state,
        "reason": event.reason.value,
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
        "color": STATE_COLORS.get(event.state, "#808080"),
    }


def _render(kind: str, override: str | None, default: str, event: AlertEvent) -> str:
    try:
        template = _compile(kind, override) if override else _env(kind).get_template(default)
        return template.render(template_vars(event)).strip()
    except Exception as exc:  # a user template can fail in any way (e.g. 1/0)
        where = "custom template" if override else f"template {default}"
        raise TemplateError(f"{where}: {type(exc).__name__}: {exc}") from exc


def render_email(event: AlertEvent, subject: str | None, body: str | None) -> tuple[str, str, str]:
    """Subject, plain-text part and HTML part; a `body` override also gives the HTML part."""
    subject_text = " ".join(_render("text", subject, "email_subject.j2", event).split())
    text = _render("text", body, "email.txt.j2", event)
    if body:
        html_part = _PRE_HTML.format(html.escape(text))
    else:
        html_part = _render("html", None, "email.html.j2", event)
    return subject_text, text, html_part


def render_slack(event: AlertEvent, body: str | None) -> str:
    """The Slack message text (mrkdwn)."""
    return _render("slack", body, "slack.txt.j2", event)
