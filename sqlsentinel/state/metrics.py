"""The state database as Prometheus text exposition (`sqlsentinel metrics`, `/metrics`).

The format is Prometheus' text format 0.0.4: label values escape only backslash, `"` and line
feeds (every other character, control characters included, is the label's own: callers
write the text's UTF-8 bytes unchanged), sample values are integers without a point,
other numbers as the shortest text that reads back as the same float, and `+Inf`, `-Inf`,
`NaN`. Counters come from `metric_counters` (state/counters.py), so pruning and restarts
never lower them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlsentinel import __version__
from sqlsentinel.core.decide import State
from sqlsentinel.state import counters, listings
from sqlsentinel.state.daemon_state import DaemonStatus, read_daemon_status
from sqlsentinel.state.db import StateDB
from sqlsentinel.state.silences import active_silences

STATES = tuple(s.value for s in State)


def metrics_text(db: StateDB, now: datetime, caps: Mapping[str, int] | None = None) -> str:
    """The metrics of everything `db` holds (empty families before the schema exists);
    `caps`: each keyed alert's max_instances, where known (state/instance_metrics.py)."""
    if db.schema_version() == 0:
        return render_metrics([], {}, [], {}, {}, [], [], now)
    text = render_metrics(
        listings.states(db),
        active_silences(db, now),
        listings.run_counts(db),
        listings.pending_count(db),
        listings.last_lateness(db),
        read_daemon_status(db),
        counters.read_counters(db),
        now,
    )
    return text + _with_instances(db, caps or {})


def _with_instances(db: StateDB, caps: Mapping[str, int]) -> str:
    """The families of keyed alerts' instances (none when there are none)."""
    from sqlsentinel.state.instance_metrics import instance_families

    out = Exposition()
    for name, help_, samples in instance_families(db, caps):
        out.gauge(name, help_, samples)
    return out.text() if out.lines else ""


def label_value(value: str) -> str:
    """A label value escaped as the text format asks (backslash, double quote, line feed)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def sample_value(value: float) -> str:
    """A sample value as Prometheus writes one (`7`, `0.2937`, `+Inf`, `NaN`)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value)  # the shortest text that reads back as the same float


def _number(value: Any) -> float | None:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


Samples = list[tuple[dict[str, str], float]]


class Exposition:
    """Metric families in the Prometheus text format."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def gauge(self, name: str, help_: str, samples: Samples) -> None:
        """Add one gauge family."""
        self._family(name, "gauge", help_, samples)

    def counter(self, name: str, help_: str, samples: Samples) -> None:
        """Add one counter family (`name` ends in `_total`)."""
        self._family(name, "counter", help_, samples)

    def _family(self, name: str, kind: str, help_: str, samples: Samples) -> None:
        help_text = help_.replace("\\", "\\\\").replace("\n", "\\n")
        self.lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
        for labels, value in samples:
            text = ",".join(f'{k}="{label_value(v)}"' for k, v in labels.items())
            self.lines.append(f"{name}{{{text}}} {sample_value(value)}")

    def text(self) -> str:
        """The whole exposition."""
        return "\n".join(self.lines) + "\n"


def render_metrics(
    states: list[dict[str, Any]],
    silenced: dict[str, Any],
    runs: list[dict[str, Any]],
    pending: dict[str, int],
    lateness: dict[str, float],
    daemons: list[DaemonStatus],
    counts: list[dict[str, Any]],
    now: datetime,
) -> str:
    """The Prometheus text exposition of the state database."""
    out = Exposition()
    out.gauge(
        "sqlsentinel_build_info", "1, labelled with the running sqlsentinel's version.",
        [({"version": __version__}, 1.0)],
    )  # fmt: skip
    _counter_families(out, counts)
    _state_families(out, states, silenced)
    _daemon_families(out, daemons, now)
    out.gauge(
        "sqlsentinel_alert_last_run_lateness_seconds",
        "How long after its timer elapsed the alert's last timer-started run began.",
        [({"alert": a}, v) for a, v in sorted(lateness.items())],
    )
    out.gauge(
        "sqlsentinel_runs_in_history",
        "Runs kept in history (within the retention), by outcome.",
        [({"alert": r["alert"], "outcome": r["outcome"]}, float(r["count"])) for r in runs],
    )
    out.gauge(
        "sqlsentinel_runs_recorded_late",
        "Runs in history whose result a later run recorded (its own write could not finish).",
        [({"alert": r["alert"], "outcome": r["outcome"]}, float(r["late"])) for r in runs],
    )
    out.gauge(
        "sqlsentinel_notifications_pending",
        "Notifications not yet delivered.",
        [({"alert": a}, float(n)) for a, n in sorted(pending.items())],
    )
    return out.text()


def _state_families(
    out: Exposition, states: list[dict[str, Any]], silenced: dict[str, Any]
) -> None:
    out.gauge(
        "sqlsentinel_alert_state",
        "1 for the alert's current state, else 0.",
        [
            ({"alert": s["alert"], "state": st}, float(s["state"] == st))
            for s in states
            for st in STATES
        ],
    )
    out.gauge(
        "sqlsentinel_alert_severity",
        "1 with the alert's current severity as its label (join on alert for the others).",
        [({"alert": s["alert"], "severity": s["severity"]}, 1.0) for s in states
         if s.get("severity")],
    )  # fmt: skip
    out.gauge(
        "sqlsentinel_alert_state_since_timestamp_seconds",
        "When the current state began.",
        [({"alert": s["alert"]}, s["since"].timestamp()) for s in states],
    )
    out.gauge(
        "sqlsentinel_alert_last_run_timestamp_seconds",
        "When the alert last ran.",
        [
            ({"alert": s["alert"]}, s["last_run_at"].timestamp())
            for s in states
            if s.get("last_run_at")
        ],
    )
    values = [(s["alert"], _number(s.get("last_value"))) for s in states]
    out.gauge(
        "sqlsentinel_alert_last_value",
        "The last actual_value, when numeric.",
        [({"alert": a}, v) for a, v in values if v is not None],
    )
    out.gauge(
        "sqlsentinel_alert_silenced",
        "1 while a silence is active.",
        [({"alert": s["alert"]}, float(s["alert"] in silenced)) for s in states],
    )


def _daemon_families(out: Exposition, daemons: list[DaemonStatus], now: datetime) -> None:
    labels = [{"config": d.beat.config, "backend": d.beat.backend} for d in daemons]
    out.gauge(
        "sqlsentinel_daemon_up",
        "1 while the daemon running this config beats, else 0 (stopped or stale).",
        [(label, float(d.running(now))) for label, d in zip(labels, daemons, strict=True)],
    )
    out.gauge(
        "sqlsentinel_daemon_heartbeat_timestamp_seconds",
        "When the daemon last recorded that it is alive.",
        [(label, d.beat.beat_at.timestamp()) for label, d in zip(labels, daemons, strict=True)],
    )
    out.gauge(
        "sqlsentinel_alert_next_run_timestamp_seconds",
        "When the daemon plans the alert's next run.",
        [
            ({"alert": alert}, at.timestamp())
            for d in daemons
            if d.running(now)
            for alert, at in sorted(d.next_runs.items())
            if at is not None
        ],
    )


def _counter_families(out: Exposition, counts: list[dict[str, Any]]) -> None:
    def of(metric: str, *names: str) -> Samples:
        return [
            ({n: c[n] for n in names}, float(c["total"])) for c in counts if c["metric"] == metric
        ]

    out.counter(
        "sqlsentinel_runs_total",
        "Runs recorded, by outcome (ok, alert, no_data or the error's name).",
        of(counters.RUNS, "alert", "outcome"),
    )
    out.counter(
        "sqlsentinel_notifications_total",
        "Notifications finished, by channel and outcome (delivered, failed, superseded, "
        "abandoned); pending ones are sqlsentinel_notifications_pending.",
        of(counters.NOTIFICATIONS, "alert", "channel", "outcome"),
    )
    out.counter(
        "sqlsentinel_notification_attempts_total",
        "Delivery attempts that ended, by channel and outcome (delivered, retryable, permanent).",
        of(counters.ATTEMPTS, "alert", "channel", "outcome"),
    )
