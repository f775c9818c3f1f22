"""Load just what a run needs: through the spec cache when it can answer.

An alert whose own settings are broken (config.isolate), or that sends email while no
SMTP server is configured where it runs, does not stop the others: it is handed back
in `RunSelection.broken` with the reason, for the engine to record as an ERROR run.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from sqlsentinel.config.fallbacks import Fallbacks
from sqlsentinel.config.read import read_config
from sqlsentinel.config.smtp_env import unmet_smtp
from sqlsentinel.config.spec_cache import SpecCache
from sqlsentinel.core.spec import AlertSpec, Settings
from sqlsentinel.dburl import working_dir
from sqlsentinel.errors import UsageError


@dataclass(frozen=True)
class RunSelection:
    """The settings, the alerts that can run, and why the others cannot."""

    settings: Settings
    alerts: list[AlertSpec]
    broken: dict[str, str]
    """Alert name -> its config problems (`file:line: field: message`, joined by `; `)."""


def load_for_run(
    path: str,
    names: Sequence[str],
    environ: Mapping[str, str] | None = None,
    applied: tuple[bytes, Fallbacks] | None = None,
    here: Fallbacks | None = None,
) -> RunSelection:
    """The named alerts (every enabled alert when `names` is empty).

    `applied` is the applied copy of the file at `path` and its fallbacks (`run
    --applied`): it is read instead of the file, which still names it in messages.
    Otherwise the file is read with `here` (`--database-url`, DATABASE_URL).
    """
    env = os.environ if environ is None else environ
    data, fallbacks = applied or (read_config(path), here or Fallbacks())
    if fallbacks.workdir is None and (cwd := working_dir()) is not None:
        fallbacks = replace(fallbacks, workdir=str(cwd))  # the cached specs hold paths read from it
    cache = SpecCache(path, data + fallbacks.key(), env)
    if not names:
        return _load(path, names, env, data, fallbacks, cache)
    hit = cache.read(names)
    if hit is None:
        with cache.filling():  # one run of a burst loads the file, the others wait for it
            hit = cache.read(names)
            if hit is None:
                return _load(path, names, env, data, fallbacks, cache)
    return _selection(*hit)


def _load(
    path: str,
    names: Sequence[str],
    env: Mapping[str, str],
    data: bytes,
    fallbacks: Fallbacks,
    cache: SpecCache,
) -> RunSelection:
    """Validate the whole file, fill the cache, and select as `load_for_run` does."""
    from sqlsentinel.config.loader import load_text
    from sqlsentinel.config.read import decode_config

    loaded = load_text(decode_config(data, path), path, env, fallbacks)
    broken = {n: "; ".join(map(str, problems)) for n, problems in loaded.broken.items()}
    cache.write(loaded.settings, loaded.alerts, set(loaded.env_used), broken)
    if not names:
        enabled = [a for a in loaded.alerts if a.enabled]
        wanted = {n: why for n, why in broken.items() if n not in loaded.broken_disabled}
        return _selection(loaded.settings, enabled, wanted)
    by_name = {a.name: a for a in loaded.alerts}
    missing = [n for n in names if n not in by_name and n not in broken]
    if missing:
        known = [*by_name, *broken]
        raise UsageError("; ".join(unknown_alert(n, known, path) for n in missing))
    chosen = [by_name[n] for n in names if n in by_name]
    return _selection(loaded.settings, chosen, {n: broken[n] for n in names if n in broken})


def _selection(settings: Settings, alerts: list[AlertSpec], broken: dict[str, str]) -> RunSelection:
    unmet = {a.name: str(problem) for a in alerts if (problem := unmet_smtp(a, settings))}
    runnable = [a for a in alerts if a.name not in unmet]
    return RunSelection(settings, runnable, {**broken, **unmet})


def unknown_alert(name: str, known: Sequence[str], source: str) -> str:
    """A message for an alert name that is not in the config, with a suggestion."""
    import difflib

    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"no alert named {name!r} in {source}{hint}"
