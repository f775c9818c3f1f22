"""Which alerts of a config missed a run: what `healthcheck`, `status` and `metrics` show.

The alerts checked are the ones the timers run: the applied copy (`install-units` or the
daemon applied it), else the file itself. An alert that never ran counts from the moment
the copy was applied; without an applied copy nothing is expected of it yet.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import TYPE_CHECKING

from sqlsentinel.cli.common import applied_store, load_config
from sqlsentinel.core.spec import AlertSpec
from sqlsentinel.schedule.missed import Staleness
from sqlsentinel.state.db import StateDB

if TYPE_CHECKING:
    from sqlsentinel.config.loader import LoadedConfig


def running_alerts(
    config: str, loaded: LoadedConfig | None = None
) -> tuple[tuple[AlertSpec, ...], datetime | None]:
    """The alerts the timers run and when they were applied (ConfigError when they do not
    load here); `loaded` is the file, already loaded, for when nothing is applied."""
    store = applied_store(config)
    meta = store.meta()
    if meta is None or meta.sha256 is None:
        file: LoadedConfig = loaded or load_config(config, allow_broken=True)
        return file.alerts, None
    from sqlsentinel.config.loader import load_text
    from sqlsentinel.config.read import decode_config

    data, fallbacks = store.read(config)
    applied = load_text(decode_config(data, config), config, os.environ, fallbacks)
    return applied.alerts, meta.applied_at


def config_staleness(
    config: str, db: StateDB, now: datetime, loaded: LoadedConfig | None = None
) -> list[Staleness]:
    """How each enabled alert of `config` stands at `now` (raises ConfigError)."""
    from sqlsentinel.daemon.jobs import tick_offset
    from sqlsentinel.engine.staleness import alerts_staleness, last_runs

    alerts, applied_at = running_alerts(config, loaded)
    offsets = {a.name: tick_offset(a) for a in alerts if a.enabled}
    return alerts_staleness(alerts, last_runs(db), applied_at, offsets, now)
