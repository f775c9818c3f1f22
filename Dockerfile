# SQL Sentinel's container image. By default it runs `sqlsentinel daemon` on
# /config/alerts.yaml with the local backend: no systemd, every alert runs in its own
# child process on its cron schedule, and states and history go to /data (or to
# STATE_DB_URL). Build: docker build -t sqlsentinel .   Use: docs/install.md, "Docker".
ARG BASE=docker.io/library/debian:bookworm-slim

FROM ${BASE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3.11 python3.11-venv binutils ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md /src/
COPY sqlsentinel /src/sqlsentinel
COPY packaging /src/packaging
# The same venv recipe as the .deb and .rpm. The optional build secret "cacert" is a CA
# bundle for a TLS-intercepting proxy between pip and PyPI (absent: not used).
RUN --mount=type=secret,id=cacert \
    if [ -s /run/secrets/cacert ]; then export PIP_CERT=/run/secrets/cacert; fi \
 && /src/packaging/build-venv.sh /build/sqlsentinel-stage \
 && mkdir -p /build/sqlsentinel-stage/usr/share/sqlsentinel \
 && /build/sqlsentinel-stage/opt/sqlsentinel/bin/python3.11 /src/packaging/files/make-example-db.py \
      /build/sqlsentinel-stage/usr/share/sqlsentinel/example.db

FROM ${BASE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3.11 tini \
 && apt-get clean && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 sqlsentinel \
 && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home \
      --shell /usr/sbin/nologin sqlsentinel \
 && mkdir -p /config /data \
 && chown sqlsentinel:sqlsentinel /data
COPY --from=build /build/sqlsentinel-stage/ /
COPY packaging/files/alerts.yaml /config/alerts.yaml
COPY packaging/docker/sqlsentinel /usr/local/bin/sqlsentinel
# STATE_DIRECTORY makes /data/state.db the default state database (a config's state_db:
# or STATE_DB_URL chooses another); HOME=/data holds the compiled-config cache.
ENV STATE_DIRECTORY=/data \
    HOME=/data \
    PYTHONUNBUFFERED=1
USER sqlsentinel
WORKDIR /data
VOLUME ["/data"]
HEALTHCHECK --interval=60s --timeout=30s --start-period=30s --retries=3 \
  CMD ["sqlsentinel", "healthcheck", "/config/alerts.yaml"]
STOPSIGNAL SIGTERM
# tini as PID 1 forwards SIGTERM to the daemon and reaps the checks' child processes.
ENTRYPOINT ["tini", "--", "sqlsentinel"]
CMD ["daemon", "/config/alerts.yaml", "--backend", "local"]
