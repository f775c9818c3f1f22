# %post of sqlsentinel: the user and the state folder; on first install enable the supervisor as the
# preset says (the package ships 50-sqlsentinel.preset: enable) and start it; on upgrade
# %postun restarts it. Debian's rpm has no macros.systemd, so the macros are written out.
systemd-sysusers sqlsentinel.conf >/dev/null 2>&1 || :
systemd-tmpfiles --create sqlsentinel.conf >/dev/null 2>&1 || :
if [ "$1" -eq 1 ]; then
	systemctl --no-reload preset sqlsentinel.service >/dev/null 2>&1 || :
	if [ -d /run/systemd/system ]; then
		systemctl daemon-reload >/dev/null 2>&1 || :
		if systemctl -q is-enabled sqlsentinel.service; then
			systemctl start sqlsentinel.service >/dev/null 2>&1 || :
		fi
	fi
fi
