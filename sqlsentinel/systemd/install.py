"""Install rendered units: plan what changes, then apply it in systemd's safe order.

A manifest (`.sqlsentinel-manifest.json` in the unit folder) records, per config file,
every unit file this command wrote with its SHA-256; files it did not write are never
touched. Applying a plan: write new and changed files atomically (temp file + rename),
enable timers with a `timers.target.wants/` link, stop the units of removed alerts,
delete their files, save the manifest, `daemon-reload` once, then start the new and
changed timers (never `restart`: see docs/systemd.md).
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from sqlsentinel.applied.unit_names import unit_base
from sqlsentinel.digest import sha256
from sqlsentinel.errors import SystemdError

if TYPE_CHECKING:
    from sqlsentinel.systemd.systemctl import Systemctl

MANIFEST = ".sqlsentinel-manifest.json"
WANTS = "timers.target.wants"
Action = Literal["create", "update", "remove", "unchanged"]

MARKER = "# Managed by `sqlsentinel install-units`: edits are overwritten; see docs/systemd.md."


@dataclass(frozen=True)
class AlertUnits:
    """One alert's rendered unit files (`systemd.units.render_alert`), keyed by file name."""

    alert: str
    base: str
    files: dict[str, str]


@dataclass(frozen=True)
class Change:
    """What happens to one unit file."""

    unit: str
    alert: str | None  # None for files of alerts that left the config
    action: Action


@dataclass
class Plan:
    """Everything an install or uninstall will do; `apply` carries it out."""

    unit_dir: Path
    config: str | None  # manifest key; None: every config (uninstall)
    write: dict[str, str] = field(default_factory=dict)  # file name -> content
    links: list[str] = field(default_factory=list)  # timers to enable
    remove: list[str] = field(default_factory=list)  # unit files to delete
    changes: list[Change] = field(default_factory=list)
    manifest: dict[str, Any] = field(default_factory=dict)  # the manifest after applying
    elsewhere: list[str] = field(default_factory=list)  # removed, but another folder has them
    resume: list[str] = field(default_factory=list)  # their timers: started after daemon-reload

    @property
    def changed(self) -> bool:
        """True when applying touches anything."""
        return bool(self.write or self.links or self.remove)

    def timers_to_start(self) -> list[str]:
        """New and changed timers (a changed service restarts its timer's schedule too)."""
        touched = {_stem(n) for n in self.write} | {_stem(n) for n in self.links}
        return sorted(f"{s}.timer" for s in touched)

    def units_to_stop(self) -> list[str]:
        """The timers and services of removed alerts (not those another folder provides:
        the manager goes on running that folder's unit of the name)."""
        return sorted(set(self.remove) - set(self.elsewhere))


def default_unit_dir(system: bool) -> Path:
    """/etc/systemd/system, or the user manager's ~/.config/systemd/user (XDG_CONFIG_HOME)."""
    if system:
        return Path("/etc/systemd/system")
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "systemd" / "user"


def _stem(name: str) -> str:
    return name.rsplit(".", 1)[0]


def _digest(text: str) -> str:
    return sha256(text.encode("utf-8"))


def read_manifest(unit_dir: Path) -> dict[str, Any]:
    """The manifest of `unit_dir` ({"version": 1, "configs": {config: {"files": …}}})."""
    try:
        data = json.loads((unit_dir / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"version": 1, "configs": {}}
    except (OSError, ValueError) as exc:
        raise SystemdError(f"cannot read {unit_dir / MANIFEST}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("configs"), dict):
        raise SystemdError(f"{unit_dir / MANIFEST} is not a sqlsentinel manifest")
    return data


def read_unit_file(path: Path) -> str | None:
    """A unit file's text (None: no such file); SystemdError when it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise SystemdError(f"cannot read {path}: {exc}") from None


def plan_install(
    unit_dir: Path, config: str, rendered: Sequence[AlertUnits], keep: Collection[str] = ()
) -> Plan:
    """Compare the rendered units of `config` with what is installed in `unit_dir`.

    The installed units of the alerts named in `keep` (broken ones) stay as they are.
    """
    manifest = read_manifest(unit_dir)
    owners = {name: key for key, entry in manifest["configs"].items() for name in entry["files"]}
    previous: dict[str, str] = dict(manifest["configs"].get(config, {}).get("files", {}))
    plan = Plan(unit_dir, config)
    files: dict[str, str] = {}
    for units in rendered:
        for name, content in units.files.items():
            owner = owners.get(name)
            if owner is not None and owner != config:
                raise SystemdError(f"{unit_dir / name} belongs to the alerts of {owner}")
            on_disk = read_unit_file(unit_dir / name)
            if owner is None and on_disk is not None and not on_disk.startswith(MARKER):
                raise SystemdError(f"{unit_dir / name} exists and was not written by sqlsentinel")
            files[name] = _digest(content)
            if on_disk == content:
                action: Action = "unchanged"
            else:
                action = "create" if on_disk is None else "update"
                plan.write[name] = content
            if name.endswith(".timer") and not (unit_dir / WANTS / name).is_symlink():
                plan.links.append(name)
            plan.changes.append(Change(name, units.alert, action))
    stems = tuple(f"{unit_base(alert)}." for alert in keep)
    for name in sorted(set(previous) - set(files)):
        if name.startswith(stems):
            files[name] = previous[name]
            continue
        plan.remove.append(name)
        plan.changes.append(Change(name, None, "remove"))
    manifest["configs"][config] = {"files": files}
    plan.manifest = manifest
    return plan


def plan_uninstall(unit_dir: Path, config: str | None) -> Plan:
    """Remove every unit recorded for `config` (for every config when None)."""
    manifest = read_manifest(unit_dir)
    keys = [k for k in manifest["configs"] if config is None or k == config]
    plan = Plan(unit_dir, config)
    for key in keys:
        for name in sorted(manifest["configs"].pop(key)["files"]):
            plan.remove.append(name)
            plan.changes.append(Change(name, None, "remove"))
    plan.manifest = manifest
    return plan


def _write_all(unit_dir: Path, files: dict[str, str]) -> None:
    """Write every file atomically and durably (world-readable, as unit files are)."""
    try:
        encoded = {name: content.encode("utf-8") for name, content in files.items()}
        from sqlsentinel.atomic import atomic_write_many  # writers only: status reads manifests

        atomic_write_many(unit_dir, encoded, 0o644, sync=True)
    except OSError as exc:
        raise SystemdError(f"cannot write in {unit_dir}: {exc.strerror or exc}") from None


def _link(wants: Path, name: str) -> None:
    tmp = wants / f".{name}.{os.getpid()}.tmp"
    tmp.unlink(missing_ok=True)
    os.symlink(f"../{name}", tmp)
    os.replace(tmp, wants / name)


def apply(plan: Plan, systemctl: Systemctl | None) -> list[str]:
    """Carry out `plan`; with `systemctl` None only files change. Returns the timers started."""
    if not plan.changed:
        return []
    unit_dir = plan.unit_dir
    try:
        unit_dir.mkdir(parents=True, exist_ok=True)
        _write_all(unit_dir, plan.write)
        if plan.links:
            (unit_dir / WANTS).mkdir(exist_ok=True)
            for name in plan.links:
                _link(unit_dir / WANTS, name)
        if systemctl is not None:
            systemctl.stop(plan.units_to_stop())
        for name in plan.remove:
            (unit_dir / WANTS / name).unlink(missing_ok=True)
            (unit_dir / name).unlink(missing_ok=True)
        if plan.manifest["configs"]:
            _write_all(unit_dir, {MANIFEST: json.dumps(plan.manifest, indent=1, sort_keys=True)})
        else:
            (unit_dir / MANIFEST).unlink(missing_ok=True)
    except OSError as exc:
        raise SystemdError(f"cannot update {unit_dir}: {exc.strerror or exc}") from None
    if systemctl is None:
        return []
    systemctl.daemon_reload()
    started = plan.timers_to_start()
    systemctl.start([*started, *plan.resume])
    return started
