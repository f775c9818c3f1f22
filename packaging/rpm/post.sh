# %post of sqlsentinel: the user and the state folder; on first install enable the supervisor
# and the metrics timer as the preset says (the package ships 50-sqlsentinel.preset: enable)
# and start them; on upgrade %postun restarts the supervisor. Debian's rpm has no
# macros.systemd, so the macros are written out.
systemd-sysusers sqlsentinel.conf >/dev/null 2>&1 || :
systemd-tmpfiles --create sqlsentinel.conf >/dev/null 2>&1 || :
if [ "$1" -eq 1 ]; then
	systemctl --no-reload preset sqlsentinel.service sqlsentinel-metrics.timer >/dev/null 2>&1 || :
	if [ -d /run/systemd/system ]; then
		systemctl daemon-reload >/dev/null 2>&1 || :
		for unit in sqlsentinel.service sqlsentinel-metrics.timer; do
			if systemctl -q is-enabled "$unit"; then
				systemctl start "$unit" >/dev/null 2>&1 || :
			fi
		done
	fi
fi
