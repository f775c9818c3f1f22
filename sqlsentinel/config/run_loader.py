"""Load just what a run needs: through the spec cache when it can answer."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from sqlsentinel.config.fallbacks import Fallbacks
from sqlsentinel.config.read import read_config
from sqlsentinel.config.spec_cache import SpecCache
from sqlsentinel.core.spec import AlertSpec, Settings
from sqlsentinel.errors import UsageError


def load_for_run(
    path: str,
    names: Sequence[str],
    environ: Mapping[str, str] | None = None,
    applied: tuple[bytes, Fallbacks] | None = None,
) -> tuple[Settings, list[AlertSpec]]:
    """Settings and the named alerts (every enabled alert when `names` is empty).

    `applied` is the applied copy of the file at `path` and its fallbacks (`run
    --applied`): it is read instead of the file, which still names it in messages.
    """
    env = os.environ if environ is None else environ
    data, fallbacks = applied or (read_config(path), Fallbacks())
    cache = SpecCache(path, data + fallbacks.key(), env)
    if names:
        hit = cache.read(names)
        if hit is not None:
            return hit
    from sqlsentinel.config.loader import load_text
    from sqlsentinel.config.read import decode_config

    loaded = load_text(decode_config(data, path), path, env, fallbacks)
    cache.write(loaded.settings, loaded.alerts, set(loaded.env_used))
    if not names:
        return loaded.settings, [a for a in loaded.alerts if a.enabled]
    by_name = {a.name: a for a in loaded.alerts}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise UsageError("; ".join(unknown_alert(n, list(by_name), path) for n in missing))
    return loaded.settings, [by_name[n] for n in names]


def unknown_alert(name: str, known: Sequence[str], source: str) -> str:
    """A message for an alert name that is not in the config, with a suggestion."""
    import difflib

    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"no alert named {name!r} in {source}{hint}"
