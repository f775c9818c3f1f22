"""Run results a run could not write in time, kept until the next run of the alert records them.

When the state database stays busy or unreachable past a run's deadline, the run saves
its `RunRecord` here (one private JSON file, written atomically) instead of losing it;
the next run of the same alert records every saved result first, oldest first, marked
`spooled` in history, and only then deletes the file. A run id already in history
(recorded just before a crash) is simply deleted.
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlsentinel.atomic import atomic_write
from sqlsentinel.core.run import RunRecord
from sqlsentinel.digest import digest
from sqlsentinel.jsonsafe import to_jsonable

_INSTANTS = {f.name for f in fields(RunRecord) if f.name.endswith("_at")}


def _folder(root: Path, alert: str) -> Path:
    return root / digest(alert.encode(), size=12)


def save(root: Path, rec: RunRecord) -> Path:
    """Keep `rec` for the next run of its alert; returns the file."""
    folder = _folder(root, rec.alert)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    data = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in asdict(rec).items()}
    path = folder / f"{rec.finished_at.strftime('%Y%m%dT%H%M%S%f')}-{rec.run_id}.json"
    atomic_write(path, json.dumps(to_jsonable(data)).encode())
    return path


def waiting(root: Path, alert: str) -> list[tuple[Path, RunRecord]]:
    """The saved results of `alert`, oldest first (unreadable files are skipped)."""
    folder = _folder(root, alert)
    if not folder.is_dir():
        return []
    out = []
    for path in sorted(folder.glob("*.json")):
        try:
            data: dict[str, Any] = json.loads(path.read_text())
            data.update({k: datetime.fromisoformat(data[k]) for k in _INSTANTS if data.get(k)})
            if data.get("instances") is not None:  # a keyed alert's rows
                from sqlsentinel.core.instances import Instance

                data["instances"] = tuple(Instance(**i) for i in data["instances"])
            out.append((path, RunRecord(**data)))
        except (OSError, ValueError, TypeError):
            continue
    return out
