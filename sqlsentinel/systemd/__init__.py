"""The systemd wing: unit rendering and names, install plan/apply, systemctl and systemd-analyze."""
