"""SQL Sentinel: SQL-first alerting scheduled by systemd timers."""

__version__ = "0.1.0"
