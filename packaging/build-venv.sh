#!/bin/bash
# Build the self-contained virtual environment /opt/sqlsentinel inside a staging tree.
#
#   packaging/build-venv.sh STAGE
#
# The venv is created by the distribution's own /usr/bin/python3.11 (never a Python found
# first on PATH: the venv links to its interpreter, which must exist on the target), made
# valid at /opt/sqlsentinel (no STAGE path left in any file), stripped of pip/setuptools
# and byte-compiled, because the services run as users that cannot write /opt.
# Used by packaging/build.sh and by the Dockerfile; writes nothing outside STAGE.
set -euo pipefail

STAGE=${1:?usage: build-venv.sh STAGE}
PREFIX=/opt/sqlsentinel
PYTHON=${PYTHON:-/usr/bin/python3.11}
SRC=$(cd "$(dirname "$0")/.." && pwd)
VENV=$STAGE$PREFIX

[ -x "$PYTHON" ] || { echo "build-venv.sh: $PYTHON not found (apt-get install python3.11-venv)" >&2; exit 1; }
rm -rf "$VENV"
mkdir -p "$STAGE"
"$PYTHON" -m venv "$VENV"

# Build the wheel from a copy of the sources: setuptools' in-tree build/ folder can hold
# stale modules from an earlier build, and they would end up in the package.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar -C "$SRC" --exclude=__pycache__ -cf - pyproject.toml README.md sqlsentinel | tar -C "$work" -xf -
"$VENV/bin/pip" install --quiet --no-compile --disable-pip-version-check \
    --constraint "$SRC/packaging/constraints.txt" "$work"

"$VENV/bin/pip" uninstall --quiet --yes pip setuptools >/dev/null 2>&1 || true
rm -f "$VENV"/bin/activate* "$VENV"/bin/Activate.ps1
rm -f "$VENV"/lib/python3.11/site-packages/sqlsentinel-*.dist-info/direct_url.json
sed -i '/direct_url.json/d' "$VENV"/lib/python3.11/site-packages/sqlsentinel-*.dist-info/RECORD

# Make every script valid at $PREFIX. Skip symlinks: sed -i would replace the python links
# with copies of the interpreter.
for f in "$VENV"/bin/*; do
  [ -L "$f" ] && continue
  sed -i -e "1s|^#!.*/bin/python[0-9.]*\$|#!$PREFIX/bin/python3.11|" -e "s|$STAGE||g" "$f"
done
sed -i "s|$STAGE||g" "$VENV/pyvenv.cfg"

# Shared objects: not executable, and without symbols when binutils' strip is there.
find "$VENV" -name '*.so*' -type f -exec chmod 0644 {} +
if command -v strip >/dev/null; then
  find "$VENV" -name '*.so*' -type f -exec strip --strip-unneeded {} +
fi
find "$VENV" -name __pycache__ -prune -exec rm -rf {} +
"$VENV/bin/python3.11" -m compileall -q -j0 --invalidation-mode unchecked-hash "$VENV/lib" >/dev/null
if grep -rIl --exclude='*.pyc' "$STAGE" "$VENV" >&2; then
  echo "build-venv.sh: the files above still name the staging folder $STAGE" >&2
  exit 1
fi
