"""The config watcher sees every way a file is replaced, once it has settled."""

from __future__ import annotations

import os
from pathlib import Path

from sqlsentinel.daemon.watch import FileWatch


def settles(w: FileWatch, t: float) -> tuple[bool, bool]:
    """(seen at t, reported once quiet)."""
    return w.poll(t), w.poll(t + w.quiet_s + 0.01)


def test_in_place_write_rename_save_and_delete_recreate(tmp_path: Path) -> None:
    config = tmp_path / "alerts.yaml"
    config.write_text("a: 1\n")
    w = FileWatch(str(config))
    assert w.poll(0.0) is False  # nothing changed
    with open(config, "a") as f:  # in place
        f.write("b: 2\n")
    assert settles(w, 1.0) == (False, True)
    assert w.poll(9.0) is False  # reported once
    tmp = tmp_path / ".alerts.yaml.swp"  # an editor's save: write aside, rename over
    tmp.write_text("a: 1\nb: 3\n")
    os.replace(tmp, config)
    assert settles(w, 10.0) == (False, True)
    config.unlink()  # delete, then recreate
    assert w.poll(20.0) is False
    config.write_text("a: 4\n")
    assert w.poll(20.1) is False
    assert w.poll(20.2 + w.quiet_s) is True


def test_a_configmap_symlink_swap_is_seen(tmp_path: Path) -> None:
    """Kubernetes: alerts.yaml -> ..data/alerts.yaml, ..data -> ..v1; an update swaps ..data."""
    for version in ("..v1", "..v2"):
        (tmp_path / version).mkdir()
        (tmp_path / version / "alerts.yaml").write_text(f"version: {version}\n")
    (tmp_path / "..data").symlink_to("..v1")
    (tmp_path / "alerts.yaml").symlink_to("..data/alerts.yaml")
    w = FileWatch(str(tmp_path / "alerts.yaml"))
    (tmp_path / "..data_tmp").symlink_to("..v2")
    os.replace(tmp_path / "..data_tmp", tmp_path / "..data")  # atomic, as kubelet does
    assert settles(w, 1.0) == (False, True)


def test_a_burst_of_writes_is_one_change(tmp_path: Path) -> None:
    config = tmp_path / "alerts.yaml"
    config.write_text("")
    w = FileWatch(str(config), quiet_s=0.4)
    reports = []
    for i in range(10):  # a write every 0.1 s for a second
        config.write_text("x" * (i + 1))
        reports.append(w.poll(i * 0.1))
    reports += [w.poll(0.9 + 0.1 * k) for k in range(1, 10)]
    assert reports.count(True) == 1
