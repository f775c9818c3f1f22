"""One unit name, one owner, across the folders sqlsentinel writes units to.

A manager loads each unit name from the first folder of its search path that holds it:
`/etc/systemd/system` before `/run/systemd/system` (the daemon's), and
`~/.config/systemd/user` before `$XDG_RUNTIME_DIR/systemd/user`. Unit names come from alert
names only, so two configs (or one config installed both by `install-units` and by the
daemon) with an alert of the same name would share one unit: one of them would silently
run, stop or remove the other's timer. So installing refuses a unit whose name another of
these folders holds (or the same folder for another config), naming both configs and the
command that removes the other; removing never stops a unit another folder still provides.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlsentinel.errors import SystemdError
from sqlsentinel.systemd.install import AlertUnits, Plan, default_unit_dir, read_manifest


class UnitClashError(SystemdError):
    """A unit to install has the name of one installed elsewhere (exit 7, SYSTEMD)."""


@dataclass(frozen=True)
class Holder:
    """Who holds a unit name in another folder: its config (None: not written by us)."""

    folder: Path
    config: str | None


def runtime_unit_dir(system: bool, environ: Mapping[str, str]) -> Path | None:
    """The manager's volatile unit folder, where the daemon writes (None: no
    XDG_RUNTIME_DIR for a user manager)."""
    if system:
        return Path("/run/systemd/system")
    runtime = environ.get("XDG_RUNTIME_DIR")
    return Path(runtime) / "systemd" / "user" if runtime else None


def peer_dirs(unit_dir: Path, system: bool, environ: Mapping[str, str] = os.environ) -> list[Path]:
    """The other folders of this manager that sqlsentinel writes to (persistent, runtime)."""
    folders = [default_unit_dir(system), runtime_unit_dir(system, environ)]
    return [f for f in dict.fromkeys(folders) if f is not None and f != unit_dir]


def holders(names: Iterable[str], folders: Sequence[Path]) -> dict[str, Holder]:
    """Which of `names` each folder holds (the first folder's answer wins), with the config
    whose manifest records it there."""
    found: dict[str, Holder] = {}
    for folder in folders:
        if not folder.is_dir():
            continue
        try:
            configs = read_manifest(folder)["configs"]
        except SystemdError:
            configs = {}
        owners = {n: key for key, entry in configs.items() for n in entry["files"]}
        for name in names:
            if name not in found and os.path.lexists(folder / name):
                found[name] = Holder(folder, owners.get(name))
    return found


def uninstall_command(config: str | None, folder: Path, system: bool) -> str:
    """The command that removes the units `config` installed in `folder` (any user, root too)."""
    mode = "--system" if system else "--user"
    target = f"{config} " if config else ""
    return f"sqlsentinel uninstall-units {target}{mode} --unit-dir {folder}"


def clash_message(unit: str, alert: str, config: str, holder: Holder, system: bool) -> str:
    """Why `unit` (of `alert` in `config`) cannot be installed, and what to do."""
    where = holder.folder / unit
    if holder.config is None:
        return (
            f"unit {unit} of alert {alert!r} of {config} clashes with {where}, which sqlsentinel "
            "did not write: the manager runs only one unit of a name; rename the alert or "
            "remove that file"
        )
    same = " (the same config, installed there too)" if holder.config == config else ""
    command = uninstall_command(holder.config, holder.folder, system)
    return (
        f"unit {unit} of alert {alert!r} of {config} clashes with {where}, installed for "
        f"{holder.config}{same}: the manager runs only one unit of a name; rename the alert, "
        f"or remove the other units with `{command}`"
    )


def check_clashes(
    unit_dir: Path, config: str, rendered: Sequence[AlertUnits], system: bool
) -> None:
    """Refuse (UnitClashError) when a unit of `rendered` is held by another folder of this
    manager; the message names the first clash and how many there are."""
    alert_of = {name: units.alert for units in rendered for name in units.files}
    found = _held_for_others(unit_dir, config, alert_of)
    found |= holders(alert_of, peer_dirs(unit_dir, system))
    if not found:
        return
    unit, holder = next(iter(found.items()))
    message = clash_message(unit, alert_of[unit], config, holder, system)
    more = f" ({len(found) - 1} more units clash)" if len(found) > 1 else ""
    raise UnitClashError(message + more)


def _held_for_others(unit_dir: Path, config: str, names: Iterable[str]) -> dict[str, Holder]:
    """Those of `names` that `unit_dir`'s manifest records for another config."""
    if not unit_dir.is_dir():
        return {}
    configs = read_manifest(unit_dir)["configs"]
    owners = {n: key for key, entry in configs.items() if key != config for n in entry["files"]}
    return {n: Holder(unit_dir, owners[n]) for n in names if n in owners}


def spare_others(plan: Plan, system: bool) -> None:
    """Keep running what another folder still provides under a name `plan` removes: it is
    not stopped, and its timer is started again once the manager has reloaded."""
    found = holders(plan.remove, peer_dirs(plan.unit_dir, system))
    plan.elsewhere = sorted(found)
    plan.resume = sorted(n for n, h in found.items() if h.config and n.endswith(".timer"))
