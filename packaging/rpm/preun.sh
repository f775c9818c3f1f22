# %preun of sqlsentinel: on erase ($1 = 0) stop and disable the supervisor and the metrics
# timer, remove the metrics textfile and every alert unit sqlsentinel generated; on upgrade
# leave everything running.
if [ "$1" -eq 0 ]; then
	systemctl --no-reload disable --now sqlsentinel.service >/dev/null 2>&1 || :
	systemctl --no-reload disable --now sqlsentinel-metrics.timer >/dev/null 2>&1 || :
	systemctl stop sqlsentinel-metrics.service >/dev/null 2>&1 || :
	rm -f /var/lib/prometheus/node-exporter/sqlsentinel.prom
	if [ -d /run/systemd/system ]; then reload=; else reload=--no-reload; fi
	for dir in /run/systemd/system /etc/systemd/system; do
		sqlsentinel uninstall-units --system --unit-dir "$dir" $reload >/dev/null 2>&1 || :
	done
fi
