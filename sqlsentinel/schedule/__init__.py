"""Cron schedules: parsing, exact translation to systemd OnCalendar=, DST policy and preview."""
