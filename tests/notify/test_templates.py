"""Default templates, per-alert overrides, escaping per channel, and early syntax checks."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from sqlsentinel.core.decide import NotifyReason
from sqlsentinel.notify.templates import (
    TemplateError,
    check_template,
    mrkdwn_escape,
    render_email,
    render_slack,
    show,
)

from .servers import make_event


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("12.50"), "12.50"),
        (None, ""),
        (True, "true"),
        (datetime(2026, 1, 2, 3, 4, tzinfo=UTC), "2026-01-02T03:04:00+00:00"),
        (date(2026, 1, 2), "2026-01-02"),
        (b"\x00\xff", "AP8="),
        ({"a": Decimal("1.5")}, '{"a":1.5}'),
        (3, "3"),
    ],
)
def test_show(value: object, text: str) -> None:
    assert show(value) == text


def test_mrkdwn_escape() -> None:
    assert mrkdwn_escape("a & <b> > c") == "a &amp; &lt;b&gt; &gt; c"


@pytest.mark.parametrize(
    ("reason", "state", "subject"),
    [
        (NotifyReason.FIRING, "ALERT", "[ALERT] orders_late is firing"),
        (NotifyReason.RESOLVED, "OK", "[OK] orders_late is resolved"),
        (NotifyReason.ERROR, "ERROR", "[ERROR] orders_late: the check failed"),
        (NotifyReason.REPEAT, "ALERT", "[ALERT] orders_late is still firing"),
        (
            NotifyReason.SILENCE_ENDED,
            "ALERT",
            "[ALERT] orders_late is still firing (silence ended)",
        ),
        (NotifyReason.TEST, "ALERT", "[TEST] [ALERT] Test message for orders_late"),
        (NotifyReason.STALE, "OK", "[STALE] orders_late missed a scheduled run"),
        (NotifyReason.RECOVERED, "OK", "[OK] orders_late is running again"),
    ],
)
def test_default_subjects(reason: NotifyReason, state: str, subject: str) -> None:
    assert render_email(make_event(reason=reason, state=state), None, None)[0] == subject


def test_default_email_shows_error_and_escapes_html() -> None:
    event = make_event(state="ERROR", reason=NotifyReason.ERROR, error="relation <x> missing")
    _, text, html = render_email(event, None, None)
    assert "Error:       relation <x> missing" in text
    assert "relation &lt;x&gt; missing" in html
    assert "Orders stuck in &lt;pending&gt; &amp; unpaid" in html


def test_default_messages_name_the_missed_run() -> None:
    tick = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    event = make_event(reason=NotifyReason.STALE, missed_tick=tick, last_run_at=None)
    _, text, html = render_email(event, None, None)
    assert "Missed run:  2026-03-01T10:00:00+00:00 (the first scheduled run" in text
    assert "Last run:    never" in text
    assert "Missed run</th><td>2026-03-01T10:00:00+00:00</td>" in html
    assert "border-left:6px solid #6f42c1" in html  # the stale colour, not the state's
    slack = render_slack(event, None)
    assert "*Missed run:* 2026-03-01T10:00:00+00:00 (last run: never)" in slack
    plain = render_email(make_event(), None, None)[1]
    assert "Missed run" not in plain and "Last run" not in plain


def test_overrides_and_newlines_in_subjects() -> None:
    subject, text, html = render_email(
        make_event(),
        "{{ alert }}\n{{ state }}",
        "{{ alert }}: {{ actual_value }} > {{ threshold }}",
    )
    assert subject == "orders_late ALERT"  # no header injection through a newline
    assert text == "orders_late: 12.50 > 10"
    assert "orders_late: 12.50 &gt; 10" in html


def test_slack_override_escapes_values_not_markup() -> None:
    text = render_slack(make_event(), "*{{ alert }}* <https://x.test|dash> {{ description }}")
    assert (
        text == "*orders_late* <https://x.test|dash> Orders stuck in &lt;pending&gt; &amp; unpaid"
    )


def test_undefined_names_render_empty() -> None:
    assert render_slack(make_event(), "[{{ context.nope }}][{{ nope.deeper }}]") == "[][]"


def test_runtime_errors_are_typed() -> None:
    with pytest.raises(TemplateError, match="custom template: ZeroDivisionError"):
        render_slack(make_event(), "{{ 1 / 0 }}")


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("{{ alert }}", None),
        ("{% if state %}x{% endif %}", None),
        ("{{ alert ", "template syntax error on line 1: unexpected end of template"),
        ("ok\n{% if x %}", "template syntax error on line 2: Unexpected end of template"),
        ("{{ alert | nosuchfilter }}", "template syntax error on line 1: No filter named"),
    ],
)
def test_check_template(source: str, error: str | None) -> None:
    message = check_template(source)
    assert message == error if error is None else message and message.startswith(error)


EXPLOITS = [
    "{{ cycler.__init__.__globals__.os.popen('touch MARKER').read() }}",
    "{{ lipsum.__globals__['os'].system('touch MARKER') }}",
    "{{ (tags|attr('__class__')).__base__.__subclasses__() }}",
    "{{ joiner.__init__.__globals__.__builtins__.open('MARKER', 'w') }}",
]


@pytest.mark.parametrize("source", EXPLOITS)
def test_templates_run_in_the_sandbox(
    source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What validation refuses also fails at send time (a template that got past it, say
    from an older cache), and nothing runs."""
    monkeypatch.chdir(tmp_path)
    error = check_template(source)
    assert error is not None and "is not allowed: templates run in a sandbox" in error
    with pytest.raises(TemplateError):
        render_slack(make_event(), source)
    with pytest.raises(TemplateError):
        render_email(make_event(), None, source)
    assert not (tmp_path / "MARKER").exists()


def test_attribute_names_given_to_filters_are_checked() -> None:
    error = check_template("{{ context|map(attribute='__class__')|list }}")
    assert error is not None and "'__class__' is not allowed" in error
    assert "class" not in render_slack(make_event(), "{{ tags|map(attribute='__class__')|list }}")


def test_templates_cannot_change_the_values_they_show() -> None:
    assert check_template("{{ context.update({'x': 1}) }}") == (
        "template line 1: calling .update() is not allowed: templates change nothing"
    )
    event = make_event()
    with pytest.raises(TemplateError):  # the sandbox refuses it (in jinja2's words)
        render_slack(event, "{{ context.update({'note': 'changed'}) }}")
    assert event.context["note"] == "<script>alert(1)</script>"


@pytest.mark.parametrize(
    "source", ["{{ 9 ** 999999999 }}", "{{ 'x' * 10**9 }}", "{{ [0] * 100001 }}", "{{ 2 ** 5000 }}"]
)
def test_templates_cannot_use_up_the_cpu_or_memory(source: str) -> None:
    """Validation compiles it at once (nothing is folded at compile time) and a render is
    refused at once instead of computing a number or string without end."""
    assert check_template(source) is None
    with pytest.raises(TemplateError, match="SecurityError"):
        render_slack(make_event(), source)
    assert render_slack(make_event(), "{{ 2 ** 64 }} {{ 'ab' * 3 }} {{ 3 * 4 }}") == (
        "18446744073709551616 ababab 12"
    )


BUDGET_ATTACKS = [
    ("{{ 'x'.ljust(999999999) }}", True),
    ("{{ 'x'|center(999999999) }}", True),
    ("{{ 'x'.zfill(999999999) }}", True),
    ("{{ '%999999999s'|format(1) }}", True),
    ("{{ '{:999999999}'.format(1) }}", True),
    ("{{ '{:{}}'.format(1, 999999999) }}", True),
    ("{{ 'a\\nb'|indent(999999999) }}", True),
    ("{{ lipsum(1000000) }}", True),
    ("{{ '%.999999999f' % 1.0 }}", True),
    ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", True),
    ("{% set x = 'ab' * 50000 %}" + "{% set x = x ~ x %}" * 40 + "{{ x|length }}", False),
    ("{% for i in range(actual_value|int) %}{% for j in range(actual_value|int) %}{% endfor %}"
     "{% endfor %}", False),
    ("{{ (alert * 5000)|replace(alert[0], 'b' * 200) }}", False),
    ("{{ range(100000)|select('in', range(100000)|list)|list|length }}", False),
    ("{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(40) }}",
     False),
]  # fmt: skip


@pytest.mark.parametrize(("source", "static"), BUDGET_ATTACKS)
def test_a_render_is_refused_within_its_budget(source: str, static: bool) -> None:
    """Each made 1-2.9 GB strings or burned 10 s and more per attempt; now each is a
    permanent template error within the render budget, using no memory to speak of, and
    `validate` refuses what is over the budget whatever the data."""
    import time
    import tracemalloc

    from sqlsentinel.notify.template_budget import RENDER_SECONDS

    problem = check_template(source)
    assert (problem is not None) == static, problem
    if static:
        assert (problem and "the render budget" in problem) or "at most" in str(problem)
    event = make_event(actual_value=100000)
    tracemalloc.start()
    began = time.monotonic()
    with pytest.raises(TemplateError, match="BudgetError"):
        render_slack(event, source)
    took = time.monotonic() - began
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert took < RENDER_SECONDS + 3 and peak < 64 * 2**20, (took, peak)


def test_ordinary_templates_stay_within_the_budget() -> None:
    source = (
        "[{{ 'x'|center(9) }}|{{ '%5.1f'|format(2.25) }}|{{ lipsum(2)|length > 9 }}"
        "|{% for k, v in context.items() %}{{ k }}{% endfor %}|{{ 'a' ~ 'b' }}"
    )
    assert check_template(source) is None
    assert render_slack(make_event(), source) == "[    x    |  2.2|true|noteoldestraw|ab"
