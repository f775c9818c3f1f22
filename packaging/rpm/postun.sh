# %postun of sqlsentinel: reload systemd; on upgrade ($1 >= 1) restart the supervisor so it
# runs the new version. Configuration and state stay after an erase (rpm has no purge):
# see docs/install.md for removing them.
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || :
	if [ "$1" -ge 1 ]; then
		systemctl try-restart sqlsentinel.service >/dev/null 2>&1 || :
	fi
fi
