"""The daemon's log lines: stderr, with syslog priority prefixes when journald reads them.

journald stores a line that is not valid UTF-8 as a blob (`journalctl` shows `[… blob
data]`), so under journald stderr is UTF-8 whatever the locale or PYTHONIOENCODING says.
"""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Mapping

# sd-daemon(3): journald reads a leading <N> as the line's priority (SyslogLevelPrefix=)
_PRIORITY = {"DEBUG": 7, "INFO": 6, "WARNING": 4, "ERROR": 3, "CRITICAL": 2}


class _JournalFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"<{_PRIORITY.get(record.levelname, 6)}>{super().format(record)}"


def configure(level: str, environ: Mapping[str, str]) -> None:
    """Log at `level` to stderr: `<3>message` under journald, `LEVEL message` elsewhere."""
    journal = bool(environ.get("JOURNAL_STREAM"))
    if journal and isinstance(sys.stderr, io.TextIOWrapper):
        sys.stderr.reconfigure(encoding="utf-8", errors="backslashreplace")
    handler = logging.StreamHandler(sys.stderr)
    if journal:
        handler.setFormatter(_JournalFormatter("%(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
