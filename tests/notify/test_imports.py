"""The hot path stays light: a webhook delivery never loads jinja2 or smtplib."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CODE = """
import sys, time
from sqlsentinel.core.spec import TargetSpec
from sqlsentinel.notify.deliver import deliver
from sqlsentinel.core.event import AlertEvent
assert "sqlsentinel.notify.channels.webhook" not in sys.modules
target = TargetSpec("webhook", {"url": "http://127.0.0.1:9/x"}, max_attempts=1)
deliver(AlertEvent.from_payload(PAYLOAD), target, smtp=None, deadline=time.monotonic() + 2,
        on_attempt=lambda a: None)
print(sorted(m for m in ("jinja2", "smtplib", "sqlsentinel.notify.templates") if m in sys.modules))
"""


def test_webhook_path_imports_no_jinja2_or_smtplib() -> None:
    from .servers import make_event

    code = CODE.replace("PAYLOAD", repr(make_event().to_payload()))
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
    )
    assert out.stdout.strip() == "[]"
