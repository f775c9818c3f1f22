"""core/route.py: which receivers are told and when a receiver's `repeat` is due (a table)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sqlsentinel.core.decide import NotifyReason as R
from sqlsentinel.core.route import OWN, Send, Subject, parse_severity_match, receivers, route
from sqlsentinel.core.severity import Severity as S
from sqlsentinel.core.spec import RouteMatch, RouteRule, SeverityMatch

NOW = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
CRIT = parse_severity_match("critical")
WARN_UP = parse_severity_match(">=warning")

POLICY = (
    RouteRule(RouteMatch(severity=CRIT), ("pager",), repeat=600.0),
    RouteRule(RouteMatch(alert="billing-*"), ("billing",), continue_=True),
    RouteRule(RouteMatch(severity=WARN_UP, tags=("team-a",)), ("chat",), repeat=3600.0),
    RouteRule(RouteMatch(database="dwh"), ("dwh-team",)),
    RouteRule(RouteMatch(key={"region": "eu"}), ("eu",)),
)


def subject(
    alert: str = "load",
    severity: S = S.ERROR,
    *,
    firing: bool = True,
    tags: tuple[str, ...] = (),
    database: str = "default",
    key: dict[str, str] | None = None,
) -> Subject:
    return Subject(alert, severity, firing, tags, database, key or {})


def ago(minutes: float) -> datetime:
    return NOW - timedelta(minutes=minutes)


CASES = [
    # (id, subject, reason, own, last_sent, expected sends)
    ("no policy: own targets only", subject(), R.FIRING, (OWN,), {}, [(OWN, R.FIRING)]),
    ("nothing due, nothing sent", subject(), None, (OWN,), {}, []),
    (
        "critical goes to the pager",
        subject(severity=S.CRITICAL),
        R.FIRING,
        (OWN,),
        {},
        [(OWN, R.FIRING), ("pager", R.FIRING)],
    ),
    (
        "first match wins: critical billing stops at the pager",
        subject("billing-x", S.CRITICAL),
        R.FIRING,
        (),
        {},
        [("pager", R.FIRING)],
    ),
    (
        "continue: billing then the >=warning rule",
        subject("billing-x", S.WARNING, tags=("team-a",)),
        R.FIRING,
        (),
        {},
        [("billing", R.FIRING), ("chat", R.FIRING)],
    ),
    ("tags: all listed", subject(severity=S.WARNING, tags=("team-b",)), R.FIRING, (), {}, []),
    (">=warning excludes info", subject(severity=S.INFO, tags=("team-a",)), R.FIRING, (), {}, []),
    ("database", subject(database="dwh"), R.RESOLVED, (), {}, [("dwh-team", R.RESOLVED)]),
    ("key value of a row", subject(key={"region": "eu"}), R.FIRING, (), {}, [("eu", R.FIRING)]),
    ("other key value", subject(key={"region": "us"}), R.FIRING, (), {}, []),
    (
        "own receiver named by the policy too: told once",
        subject(severity=S.CRITICAL),
        R.FIRING,
        ("pager",),
        {},
        [("pager", R.FIRING)],
    ),
    (
        "repeat due exactly at its length",
        subject(severity=S.CRITICAL),
        None,
        (OWN,),
        {"pager": ago(10)},
        [("pager", R.REPEAT)],
    ),
    ("repeat not yet due", subject(severity=S.CRITICAL), None, (OWN,), {"pager": ago(9.9)}, []),
    (
        "repeat due when nothing was sent in it",
        subject(severity=S.CRITICAL),
        None,
        (),
        {},
        [("pager", R.REPEAT)],
    ),
    ("no repeat when not firing", subject(severity=S.CRITICAL, firing=False), None, (), {}, []),
    (
        "repeat_interval skips a receiver with its own repeat",
        subject(severity=S.CRITICAL),
        R.REPEAT,
        (OWN,),
        {"pager": ago(1)},
        [(OWN, R.REPEAT)],
    ),
    (
        "each receiver on its own clock",
        subject("billing-x", S.WARNING, tags=("team-a",)),
        None,
        (),
        {"chat": ago(61)},
        [("chat", R.REPEAT)],
    ),
]


@pytest.mark.parametrize(("subj", "reason", "own", "last", "want"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])  # fmt: skip
def test_route(
    subj: Subject, reason: R | None, own: tuple[str, ...], last: dict[str, datetime],
    want: list[tuple[str, R]],
) -> None:  # fmt: skip
    assert route(subj, reason, own, POLICY, last, NOW) == [Send(n, r) for n, r in want]


def test_receivers_keep_the_first_repeat_given() -> None:
    policy = (
        RouteRule(RouteMatch(), ("a",), continue_=True),
        RouteRule(RouteMatch(), ("a", "b"), repeat=60.0),
    )
    assert receivers(subject(), (), policy) == {"a": 60.0, "b": 60.0}


@pytest.mark.parametrize("text", ["urgent", ">= ", "<=error", ">>warning", ""])
def test_bad_severity_expressions_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="warning"):
        parse_severity_match(text)


def test_severity_expressions() -> None:
    m = parse_severity_match(" >= Warning ")
    assert (m.severity, m.at_least) == (S.WARNING, True)
    assert parse_severity_match("info") == SeverityMatch(S.INFO)
