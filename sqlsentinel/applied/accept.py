"""The accept step: validate a config once, and keep it with its timetable as what runs.

`install-units`, the daemon's systemd backend and its local backend all apply through
`accept`: the bytes validate (in the applier's environment), become the applied copy, and
the timetable of what runs on this host is written beside them in the same apply. An
invalid config is recorded as rejected and changes nothing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from sqlsentinel.applied.host import timer_offsets
from sqlsentinel.applied.store import AppliedMeta, AppliedStore
from sqlsentinel.applied.timetable import Launch, Scheduled, Timetable, Unscheduled
from sqlsentinel.applied.unit_names import unit_base
from sqlsentinel.config.fallbacks import NO_FALLBACKS, Fallbacks
from sqlsentinel.config.loader import LoadedConfig, load_text
from sqlsentinel.config.read import decode_config
from sqlsentinel.core.spec import AlertSpec, defaults_of, stale_grace
from sqlsentinel.digest import sha256
from sqlsentinel.errors import ConfigError
from sqlsentinel.schedule.translate import Translation


@dataclass(frozen=True)
class Accepted:
    """A validated config, what is applied (None: nothing yet) and its timetable."""

    loaded: LoadedConfig
    meta: AppliedMeta | None
    timetable: Timetable


def accept(
    data: bytes,
    config: str,
    store: AppliedStore,
    launch: Launch,
    *,
    environ: Mapping[str, str] | None = None,
    fallbacks: Fallbacks = NO_FALLBACKS,
    keep: bool = True,
    previous: Timetable | None = None,
) -> Accepted:
    """Validate `data`, the bytes of `config`; when valid (and `keep`) make it the applied
    copy, with its timetable. `previous`: the timetable applied before (a broken alert
    keeps its entry: its units go on running what was applied before).

    An invalid config raises ConfigError after being recorded as rejected (with `keep`).
    """
    env = os.environ if environ is None else environ
    now = datetime.now(UTC)
    try:
        loaded = load_text(decode_config(data, config), config, env, fallbacks)
    except ConfigError as exc:
        if keep:
            store.reject(data, config, exc.problems, now)
        raise
    sha = sha256(data)
    if keep:
        timetable = build_timetable(loaded, launch, store.folder, sha, now, previous)
        return Accepted(loaded, store.save(data, config, fallbacks, now, timetable), timetable)
    meta = store.meta()
    applied_at = meta.applied_at if meta is not None and meta.sha256 == sha else None
    timetable = build_timetable(loaded, launch, store.folder, sha, applied_at, previous)
    return Accepted(loaded, meta, timetable)


def build_timetable(
    loaded: LoadedConfig,
    launch: Launch,
    applied: Path | None,
    sha: str | None,
    applied_at: datetime | None,
    previous: Timetable | None = None,
) -> Timetable:
    """What runs of `loaded` on this host (the machine ID read once), ticks running the
    copy applied in `applied` (None: the file itself)."""
    config = os.path.abspath(loaded.settings.source)
    folder = None if applied is None else str(applied)
    enabled = [a for a in loaded.alerts if a.enabled]
    offsets = timer_offsets(enabled, launch.system)
    alerts = [
        schedule_entry(
            a,
            loaded.translations[a.name],
            offsets[a.name].total_seconds(),
            launch.command(config, folder, a.name),
        )
        for a in enabled
    ]
    off = [
        Unscheduled(a.name, "disabled", a.key, a.max_instances)
        for a in loaded.alerts
        if not a.enabled
    ]
    for name, problems in loaded.broken.items():
        before = previous.entry(name) if previous is not None else None
        if name in loaded.broken_disabled or before is None:
            why = "disabled" if name in loaded.broken_disabled else "broken"
            off.append(Unscheduled(name, why, (), _DEFAULT_CAP))
        else:  # its units (or job) go on running what was applied before
            alerts.append(replace(before, broken=str(problems[0]) if problems else "broken"))
    state_db, line = loaded.state_db_text or (None, None)
    return Timetable(
        config,
        sha,
        applied_at,
        launch.system,
        tuple(alerts),
        tuple(off),
        state_db,
        line,
        loaded.workdir,
    )


_DEFAULT_CAP: int = defaults_of(AlertSpec)["max_instances"]


def schedule_entry(
    alert: AlertSpec, translation: Translation, offset: float, command: tuple[str, ...]
) -> Scheduled:
    """The timetable entry of a validated, enabled alert: its translation's lines and timer,
    delayed by its `offset` on this host, and the command a tick runs."""
    return Scheduled(
        name=alert.name,
        unit=unit_base(alert.name),
        timer=translation.timer(offset),
        timezone=alert.timezone,
        on_calendar=translation.on_calendar,
        jitter=alert.jitter,
        persistent=alert.persistent,
        stale_grace=stale_grace(alert),
        command=command,
        key=alert.key,
        max_instances=alert.max_instances,
    )
