#!/bin/sh
# Install jaga on a server the documented way (the steps in deploy/systemd/jaga.service's comment):
# a system user, a virtualenv in /opt/jaga, /etc/jaga/config.yaml from deploy/config/server.yaml (an
# existing one is kept), the state folder /var/lib/jaga and the unit. Then edit the config, run
# check-config and `systemctl enable --now jaga`.
#
#   deploy/install.sh [--root DIR] [--no-user] [--pip-args "ARGS"]
#
# --root DIR installs into DIR as if it were / (an image being built; tests/test_install.py);
# --no-user skips creating the jaga user; --pip-args passes options to pip (e.g. an offline install:
# "--no-index --find-links /media/wheels"). $PYTHON names the interpreter (default python3).
set -eu

ROOT=""
CREATE_USER=1
PIP_ARGS=""
SRC=$(cd "$(dirname "$0")/.." && pwd)
while [ $# -gt 0 ]; do
  case "$1" in
    --root) ROOT=$2; shift 2 ;;
    --no-user) CREATE_USER=0; shift ;;
    --pip-args) PIP_ARGS=$2; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

if [ "$CREATE_USER" = 1 ] && ! getent passwd jaga >/dev/null; then
  useradd --system --home-dir /var/lib/jaga --no-create-home --shell /usr/sbin/nologin jaga
fi
OWNER=""   # the state folder belongs to jaga; the config only to its group (readable, not writable)
GROUP=""
if getent passwd jaga >/dev/null; then OWNER="-o jaga -g jaga"; GROUP="-g jaga"; fi

"${PYTHON:-python3}" -m venv "$ROOT/opt/jaga"
# shellcheck disable=SC2086 # PIP_ARGS is a list of options
"$ROOT/opt/jaga/bin/pip" install --quiet $PIP_ARGS "$SRC"

install -d -m 0755 "$ROOT/etc/jaga"
if [ ! -e "$ROOT/etc/jaga/config.yaml" ]; then
  # shellcheck disable=SC2086
  install -m 0640 $GROUP "$SRC/deploy/config/server.yaml" "$ROOT/etc/jaga/config.yaml"
fi
# systemd creates it too (StateDirectory=jaga); made here so check-config passes before the first start
# shellcheck disable=SC2086
install -d -m 0750 $OWNER "$ROOT/var/lib/jaga"
install -d -m 0755 "$ROOT/etc/systemd/system"
install -m 0644 "$SRC/deploy/systemd/jaga.service" "$ROOT/etc/systemd/system/jaga.service"
if [ -z "$ROOT" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi

cat <<NEXT
jaga is installed in $ROOT/opt/jaga. Next:
  1. edit $ROOT/etc/jaga/config.yaml (the upload folder, the targets) and the unit's ReadWritePaths=
  2. $ROOT/opt/jaga/bin/jaga -c $ROOT/etc/jaga/config.yaml check-config
  3. systemctl enable --now jaga
NEXT
