"""`sqlsentinel run --alert X` stays light: with a warm compiled cache it never loads the
validator, the unit generator, jinja2, croniter, pydantic or PyYAML, and a 1,000-alert
config costs it no more than a 1-alert one (measured in bench/bench_run.py)."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from support import Cli

from sqlsentinel.notify.channels import CHANNELS

FORBIDDEN = (
    "pydantic",
    "yaml",
    "jinja2",
    "croniter",
    "sqlsentinel.config.loader",
    "sqlsentinel.config.models",
    "sqlsentinel.schedule",
    "sqlsentinel.notify",
    "sqlalchemy.dialects.postgresql",
)


def _imported(stderr: str) -> set[str]:
    return {m.group(1) for m in re.finditer(r"^import time:.*\|\s*([\w.]+)$", stderr, re.M)}


NOTIFY = """\
    notify:
      - channel: slack
        channel: "#ops"
        webhook_url: http://127.0.0.1:9/services/T/B/x
      - channel: webhook
        url: http://127.0.0.1:9/hook
      - channel: email
        recipients: [ops@example.com]
"""


def test_warm_run_imports_only_what_a_run_needs(cli: Cli, tmp_path: Path) -> None:
    """Every channel kind in the file, none due: the warm run takes its alert from the cache,
    also when another alert is broken (it reads a variable that is not set)."""
    assert set(re.findall(r"- channel: (\w+)", NOTIFY)) == set(CHANNELS)  # every kind, always
    alerts = "".join(
        f"  - name: a{i}\n    query: SELECT 'OK' AS status\n    schedule: '*/5 * * * *'\n{NOTIFY}"
        for i in range(200)
    )
    alerts += NOTIFY.replace("http://127.0.0.1:9/hook", "${HOT_PATH_UNSET}").replace(
        "    notify:\n",
        "  - name: broken\n    query: SELECT 1\n    schedule: '0 * * * *'\n    notify:\n",
    )
    sqlite3.connect(tmp_path / "t.db").close()
    config = tmp_path / "alerts.yaml"
    smtp = "smtp:\n  host: 127.0.0.1\n"
    config.write_text(f"database:\n  url: sqlite:///t.db\nstate_db: s.db\n{smtp}alerts:\n{alerts}")
    cli.argv = [*cli.argv[:1], "-X", "importtime", *cli.argv[1:]]
    cold = cli("run", config, "--alert", "a7", "--triggered-by", "CRON")
    assert cold.rc == 0, cold.stderr
    assert "pydantic" in _imported(cold.stderr)  # the first run validates and compiles
    warm = cli("run", config, "--alert", "a7", "--triggered-by", "CRON")
    assert warm.rc == 0, warm.stderr
    modules = _imported(warm.stderr)
    assert "sqlsentinel.engine.run" in modules and "sqlalchemy" in modules
    loaded = sorted(m for m in modules if m.split(".")[0] in FORBIDDEN or m.startswith(FORBIDDEN))
    assert loaded == []
