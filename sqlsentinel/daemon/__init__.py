"""The supervisor (`sqlsentinel daemon`): watch, apply, sd_notify; and the local backend."""
