#!/usr/bin/env bash
# Installs (or upgrades) barriosms as a system service on Raspberry Pi OS / Debian 12 (bookworm)
# or newer, from the source folder this script is in. Safe to run again: that is how to upgrade.
# See docs/raspberry-pi.md, or: ./scripts/install.sh --help
set -euo pipefail
set -o errtrace

usage() {
  cat <<'EOF'
Usage: sudo ./scripts/install.sh [--dry-run]
       sudo ./scripts/install.sh --uninstall [--dry-run]
       ./scripts/install.sh --root DIR [--with-venv] [--uninstall] [--dry-run]

Installs barriosms from this source folder as a systemd service; run it again to upgrade:
  - system user barriosms (no login, home /var/lib/barriosms, in group dialout for the modem)
  - the app in /opt/barriosms/venv (python-gammu's wheel on x86_64 and aarch64; Debian's
    python3-gammu and a venv with --system-site-packages on 32-bit armv7l, or when
    BARRIOSMS_SYSTEM_GAMMU=1)
  - /etc/barriosms/barriosms.ini from config/barriosms.ini.example (never overwritten once it
    exists), plus example neighbourhoods and the SMS texts (replies.es.ini) and category keywords
    (categories.es.ini) it uses: edit those two, then barriosms config check and reload. An
    earlier barriosms.ini that does not use them is kept; the installer says what to add
  - /var/lib/barriosms (the database, mode 0750) and /var/lib/barriosms/backups
  - the database created or migrated (`barriosms db migrate`, as the barriosms user)
  - /etc/udev/rules.d/99-barriosms-modem.rules: /dev/gsmmodem for the modem's AT port
  - barriosms.service and the daily barriosms-backup.timer, enabled and started
  - barriosms-web.service, the website on [web] listen (127.0.0.1:8080 unless changed; a
    reverse proxy with TLS goes in front, see docs/website.md), enabled and started

Options:
  --uninstall   stop and remove the service, timer, udev rule and /opt/barriosms; keeps the
                configuration (/etc/barriosms) and the data (/var/lib/barriosms)
  --dry-run     print every action, change nothing
  --root DIR    write everything under DIR instead of / (tests, packaging); commands that change
                the running system (useradd, chown to barriosms, apt-get, systemctl, udevadm)
                are printed as "would run: ..." instead. The venv is skipped unless --with-venv.
                Migrations run with $BARRIOSMS_PYTHON (default DIR/opt/barriosms/venv/bin/python)
                against DIR's configuration, whose database path points into DIR.
  --with-venv   with --root: build the venv in DIR/opt/barriosms/venv too
  -h, --help    this help

Environment:
  BARRIOSMS_SYSTEM_GAMMU=1   use Debian's python3-gammu even where a wheel exists
  PYTHON=/usr/bin/python3    the Python the venv is made from (3.11 or newer)
  BARRIOSMS_PYTHON=PATH      with --root: the Python that runs the migrations
EOF
}

APP_USER=barriosms
OPT=/opt/barriosms
VENV=$OPT/venv
ETC=/etc/barriosms
DATA=/var/lib/barriosms
BACKUPS=$DATA/backups
UNIT_DIR=/etc/systemd/system
UDEV_DIR=/etc/udev/rules.d
RULE=99-barriosms-modem.rules
UNITS=(barriosms.service barriosms-web.service barriosms-backup.service barriosms-backup.timer)
DEVICE=/dev/gsmmodem
EXAMPLES=(neighborhoods-lapaz.csv replies.es.ini categories.es.ini)

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

action=install
dry_run=0
with_venv=0
root_dir=""
stopped_for_upgrade=0

say() { printf '==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
warn() { printf 'barriosms install: warning: %s\n' "$*" >&2; }
die() { printf 'barriosms install: error: %s\n' "$*" >&2; exit 1; }

on_error() {
  local rc=$1 line=$2 cmd=$3
  printf 'barriosms install: error: "%s" failed (exit %s, %s line %s).\n' "$cmd" "$rc" "$0" "$line" >&2
  printf '    Fix the cause shown above and run the installer again: it is safe to repeat.\n' >&2
  if [ "$stopped_for_upgrade" = 1 ]; then
    printf '    barriosms was stopped for the upgrade and is still stopped; to run what is installed\n' >&2
    printf '    meanwhile: sudo systemctl start barriosms\n' >&2
  fi
}
trap 'on_error $? $LINENO "$BASH_COMMAND"' ERR

# A command line as it could be pasted into a shell.
show() {
  local out="" a
  for a in "$@"; do
    if [[ $a =~ ^[][A-Za-z0-9_./:=@%+,-]+$ ]]; then
      out+=" $a"
    else
      out+=" '${a//\'/\'\\\'\'}'"
    fi
  done
  printf '%s' "${out# }"
}

# A change to files under the target (DIR with --root): only printed with --dry-run.
fs() {
  if [ "$dry_run" = 1 ]; then
    printf 'would run: %s\n' "$(show "$@")"
    return 0
  fi
  "$@"
}

# A change to the running system: printed with --dry-run and with --root.
sys() {
  if [ "$dry_run" = 1 ] || [ -n "$root_dir" ]; then
    printf 'would run: %s\n' "$(show "$@")"
    return 0
  fi
  "$@"
}

user_exists() { getent passwd "$APP_USER" >/dev/null 2>&1; }

# chown to the barriosms user: printed when that user does not exist here (--root, --dry-run).
own() {
  if [ "$dry_run" = 0 ] && [ "$(id -u)" = 0 ] && user_exists; then
    chown "$@"
  else
    printf 'would run: %s\n' "$(show chown "$@")"
  fi
}

systemd_running() { [ -z "$root_dir" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; }
udev_running() { [ -z "$root_dir" ] && [ -S /run/udev/control ] && command -v udevadm >/dev/null 2>&1; }

# The value of KEY in [SECTION] of a configuration file: config_value SECTION KEY FILE (empty when
# it has none; a commented-out ;KEY = ... line is none).
config_value() {
  awk -v want="[$1]" -v key="$2" '/^[ \t]*\[/ { s = $0; gsub(/[ \t]/, "", s) }
       s == want && $0 ~ ("^[ \t]*" key "[ \t]*=") { sub(/^[^=]*=[ \t]*/, ""); sub(/[ \t]+$/, ""); print; exit }' "$3"
}

# The [database] path of a configuration file (empty when it has none).
config_db_path() { config_value database path "$1"; }

# ---------------------------------------------------------------------------------------------
# Arguments

while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --uninstall) action=uninstall ;;
    --dry-run) dry_run=1 ;;
    --with-venv) with_venv=1 ;;
    --root)
      if [ $# -lt 2 ] || [ -z "$2" ]; then die "--root needs a folder, e.g. --root /tmp/barriosms-root"; fi
      root_dir=$2
      shift ;;
    --root=*) root_dir=${1#--root=}
      [ -n "$root_dir" ] || die "--root needs a folder, e.g. --root=/tmp/barriosms-root" ;;
    *) die "unknown option: $1 (see $0 --help)" ;;
  esac
  shift
done

if [ -n "$root_dir" ]; then
  root_dir="$(realpath -m -- "$root_dir")"
  [ "$root_dir" != / ] || die "--root / is the normal installation: leave --root out (and use sudo)"
elif [ "$with_venv" = 1 ]; then
  die "--with-venv only goes with --root DIR (a normal installation always builds the venv)"
fi
PREFIX=$root_dir
case "$(cd "$SRC" && pwd -P)/" in
  "$(realpath -m -- "$PREFIX$OPT")"/*)
    die "the source folder $SRC is inside $PREFIX$OPT, which the installer owns (it replaces it on upgrade and removes it on --uninstall). Clone elsewhere and install from there: git clone $SRC ~/barriosms && cd ~/barriosms && sudo ./scripts/install.sh" ;;
esac
cd /

if [ -z "$root_dir" ] && [ "$dry_run" = 0 ] && [ "$(id -u)" != 0 ]; then
  die "installing a system service needs root: sudo $0${*:+ $*}   (or --dry-run to see what it would do)"
fi

if [ -z "$root_dir" ] && [ "$dry_run" = 0 ]; then
  # Two installers at once would fight over pip and the units.
  lock=/run/lock/barriosms-install.lock
  [ -d /run/lock ] || lock=/tmp/barriosms-install.lock
  exec 9>"$lock"
  flock -n 9 || die "another barriosms install.sh is running; wait for it to finish"
fi

# ---------------------------------------------------------------------------------------------
# Uninstall

uninstall() {
  say "removing barriosms from ${root_dir:-this machine}"
  local present=()
  local u
  for u in "${UNITS[@]}"; do
    [ -e "$PREFIX$UNIT_DIR/$u" ] && present+=("$u")
  done
  if [ ${#present[@]} -gt 0 ]; then
    if [ -n "$root_dir" ] || systemd_running; then
      sys systemctl disable --now barriosms.service barriosms-backup.timer \
        || warn "systemctl could not stop or disable the units (see above); removing them anyway"
      if [ -e "$PREFIX$UNIT_DIR/barriosms-web.service" ]; then
        sys systemctl disable --now barriosms-web.service \
          || warn "systemctl could not stop or disable barriosms-web.service (see above); removing it anyway"
      fi
      sys systemctl stop barriosms-backup.service || true
    fi
    for u in "${present[@]}"; do
      fs rm -f -- "$PREFIX$UNIT_DIR/$u"
    done
    note "removed the units from $PREFIX$UNIT_DIR"
    if [ -n "$root_dir" ] || systemd_running; then
      sys systemctl daemon-reload
      sys systemctl reset-failed barriosms.service barriosms-web.service barriosms-backup.service 2>/dev/null || true
    fi
  else
    note "no barriosms units in $PREFIX$UNIT_DIR"
  fi
  if [ -e "$PREFIX$UDEV_DIR/$RULE" ]; then
    fs rm -f -- "$PREFIX$UDEV_DIR/$RULE"
    note "removed $PREFIX$UDEV_DIR/$RULE"
    if [ -n "$root_dir" ] || udev_running; then
      sys udevadm control --reload
    fi
  fi
  case "$PREFIX$OPT" in
    */opt/barriosms) ;;
    *) die "refusing to remove $PREFIX$OPT (not an .../opt/barriosms folder)" ;;
  esac
  if [ -e "$PREFIX$OPT" ]; then
    fs rm -rf -- "$PREFIX$OPT"
    note "removed $PREFIX$OPT (the app and its venv)"
  fi

  local db=""
  [ -r "$PREFIX$ETC/barriosms.ini" ] && db="$(config_db_path "$PREFIX$ETC/barriosms.ini")"
  say "kept your configuration and data:"
  note "configuration: $PREFIX$ETC/"
  note "database:      ${db:-$PREFIX$DATA/barriosms.db}"
  note "backups:       $PREFIX$BACKUPS/"
  note "the system user $APP_USER is kept too. To remove everything for good:"
  note "  sudo rm -rf $PREFIX$ETC $PREFIX$DATA $PREFIX/var/log/barriosms && sudo userdel $APP_USER"
  note "To install again: sudo $SRC/scripts/install.sh"
}

if [ "$action" = uninstall ]; then
  uninstall
  exit 0
fi

# ---------------------------------------------------------------------------------------------
# Install: checks first, so that a missing piece stops us before anything is changed.

if [ ! -f "$SRC/setup.cfg" ] || [ ! -d "$SRC/barriosms" ] || [ ! -f "$SRC/config/barriosms.ini.example" ]; then
  die "$SRC is not a barriosms source folder: run the install.sh inside a clone (git clone ... && cd barriosms && sudo ./scripts/install.sh)"
fi
for f in "${UNITS[@]}" "$RULE"; do
  [ -f "$SRC/systemd/$f" ] || die "$SRC/systemd/$f is missing: the source folder is incomplete (git status; git checkout -- systemd)"
done
for f in "${EXAMPLES[@]}"; do
  [ -f "$SRC/config/$f" ] || die "$SRC/config/$f is missing: the source folder is incomplete (git status; git checkout -- config)"
done
version="$(sed -n 's/^__version__ = "\(.*\)"/\1/p' "$SRC/barriosms/__init__.py")"
commit="$(git -c safe.directory="$SRC" -C "$SRC" rev-parse --short HEAD 2>/dev/null || true)"

if [ -z "$root_dir" ]; then
  command -v apt-get >/dev/null 2>&1 \
    || die "apt-get not found: this installer is for Raspberry Pi OS / Debian 12 (bookworm) or newer"
  if [ -r /etc/os-release ]; then
    # shellcheck disable=SC1091
    os_version="$(. /etc/os-release && printf '%s' "${VERSION_ID:-}")"
    if [ -n "$os_version" ] && [ "${os_version%%.*}" -lt 12 ] 2>/dev/null; then
      warn "Debian $os_version is older than 12 (bookworm): Python 3.11 or newer is needed; upgrading the OS is the way"
    fi
  fi
fi

# The rule of scripts/_venv.sh: python-gammu publishes wheels (with Gammu inside) for x86_64 and
# aarch64 only; elsewhere (32-bit Raspberry Pi OS is armv7l) Debian's python3-gammu is used through
# a venv made with --system-site-packages. What counts is the architecture of the userland (dpkg's):
# 32-bit Raspberry Pi OS on a Pi 4 or 5 can run a 64-bit kernel, and then `uname -m` says aarch64
# while Python and pip are 32-bit (armhf) and find no wheel.
arch="$(uname -m)"
if command -v dpkg >/dev/null 2>&1; then
  arch="$(dpkg --print-architecture)"
fi
system_gammu=0
case "$arch" in
  x86_64|amd64|aarch64|arm64) ;;
  *) system_gammu=1 ;;
esac
[ "${BARRIOSMS_SYSTEM_GAMMU:-0}" = 1 ] && system_gammu=1

build_venv=1
[ -n "$root_dir" ] && [ "$with_venv" = 0 ] && build_venv=0

if [ -n "${PYTHON:-}" ]; then
  PY=$PYTHON
elif [ -x /usr/bin/python3 ]; then
  PY=/usr/bin/python3   # Debian's: python3-gammu is installed for it
else
  PY=python3
fi

say "barriosms ${version:-?}${commit:+ ($commit)} from $SRC -> ${root_dir:-/}"
[ "$dry_run" = 1 ] && note "dry run: nothing is changed"

if [ "$build_venv" = 1 ]; then
  command -v "$PY" >/dev/null 2>&1 || die "$PY not found. Install it: sudo apt-get install python3 python3-venv"
  "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "Python 3.11 or newer is needed, $("$PY" -V 2>&1) found ($PY). Raspberry Pi OS / Debian 12 (bookworm) ship 3.11"
fi

# Debian packages: usb-modeswitch turns sticks that show up as a CD-ROM into modems; python3-venv
# builds the venv; python3-gammu where no wheel exists.
packages=()
if [ -n "$root_dir" ]; then
  packages+=(usb-modeswitch)
  [ "$system_gammu" = 1 ] && packages+=(python3-gammu)
else
  dpkg -s usb-modeswitch >/dev/null 2>&1 || packages+=(usb-modeswitch)
  if [ "$system_gammu" = 1 ] && ! "$PY" -c 'import gammu' >/dev/null 2>&1; then
    packages+=(python3-gammu)
  fi
  if [ "$PY" = /usr/bin/python3 ] && ! "$PY" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    packages+=(python3-venv)
  fi
fi
if [ ${#packages[@]} -gt 0 ]; then
  say "Debian packages: ${packages[*]}"
  if [ "$dry_run" = 1 ] || [ -n "$root_dir" ]; then
    sys apt-get install -y "${packages[@]}"
  else
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q "${packages[@]}"; then
      note "retrying after apt-get update"
      if ! { apt-get update -q && apt-get install -y -q "${packages[@]}"; }; then
        die "apt-get could not install ${packages[*]}. Check the internet connection, then: sudo apt-get update && sudo apt-get install ${packages[*]}   and run this installer again"
      fi
    fi
  fi
fi

if [ "$build_venv" = 1 ] && ! { [ "$dry_run" = 1 ] && [ ${#packages[@]} -gt 0 ]; }; then
  "$PY" -c 'import venv, ensurepip' >/dev/null 2>&1 \
    || die "the Python venv module is missing for $PY. Install it: sudo apt-get install python3-venv"
  if [ "$system_gammu" = 1 ]; then
    "$PY" -c 'import gammu' >/dev/null 2>&1 \
      || die "no python-gammu wheel exists for $arch and $PY cannot import Debian's: sudo apt-get install python3-gammu   (it is for /usr/bin/python3: leave PYTHON unset)"
  fi
fi

# ---------------------------------------------------------------------------------------------
# The system user

say "system user $APP_USER (no login, home $DATA, group dialout)"
if [ -n "$root_dir" ] || ! user_exists; then
  getent group dialout >/dev/null 2>&1 || [ -n "$root_dir" ] || sys groupadd --system dialout
  sys useradd --system --user-group --home-dir "$DATA" --no-create-home --shell /usr/sbin/nologin \
    --groups dialout --comment "barriosms SMS gateway" "$APP_USER"
elif id -nG "$APP_USER" | tr ' ' '\n' | grep -qx dialout; then
  note "exists, already in dialout"
else
  sys usermod --append --groups dialout "$APP_USER"
fi

# ---------------------------------------------------------------------------------------------
# The app in its venv

# Also when it is "activating" (restarting after a failure): it must not start half-upgraded.
if systemd_running && case "$(systemctl is-active barriosms.service 2>/dev/null || true)" in
     active|activating|reloading) true ;; *) false ;; esac; then
  say "stopping barriosms for the upgrade (messages wait on the SIM meanwhile)"
  sys systemctl stop barriosms.service
  [ "$dry_run" = 1 ] || stopped_for_upgrade=1
fi
# The website too: it must not import half-replaced files. `enable --now` below starts it again.
if systemd_running && case "$(systemctl is-active barriosms-web.service 2>/dev/null || true)" in
     active|activating|reloading) true ;; *) false ;; esac; then
  say "stopping barriosms-web for the upgrade (the website is down meanwhile)"
  sys systemctl stop barriosms-web.service
fi

fs install -d -m 0755 "$PREFIX$OPT" "$PREFIX$OPT/docs"
if [ "$build_venv" = 0 ]; then
  say "skipping the venv in --root mode (add --with-venv to build $PREFIX$VENV)"
else
  venv_args=()
  [ "$system_gammu" = 1 ] && venv_args+=(--system-site-packages)
  want_site=false
  [ "$system_gammu" = 1 ] && want_site=true
  if [ -e "$PREFIX$VENV" ]; then
    reason=""
    have_site="$(sed -n 's/^include-system-site-packages[ \t]*=[ \t]*//p' "$PREFIX$VENV/pyvenv.cfg" 2>/dev/null || true)"
    if ! "$PREFIX$VENV/bin/python" -c '' >/dev/null 2>&1; then
      reason="its Python no longer runs"
    elif [ "$("$PREFIX$VENV/bin/python" -c 'import sys; print(sys.version_info[:2])')" != "$("$PY" -c 'import sys; print(sys.version_info[:2])' 2>/dev/null)" ]; then
      reason="it was made with another Python version than $PY"
    elif [ "$have_site" != "$want_site" ]; then
      reason="include-system-site-packages should be $want_site (python-gammu from $([ "$system_gammu" = 1 ] && echo Debian || echo its wheel))"
    fi
    if [ -n "$reason" ]; then
      say "rebuilding $PREFIX$VENV: $reason"
      fs rm -rf -- "$PREFIX$VENV"
    fi
  fi
  if [ ! -x "$PREFIX$VENV/bin/python" ]; then
    if [ "$system_gammu" = 1 ]; then
      say "creating the venv $PREFIX$VENV (--system-site-packages: python-gammu is Debian's python3-gammu)"
    else
      say "creating the venv $PREFIX$VENV"
    fi
    fs "$PY" -m venv "${venv_args[@]}" "$PREFIX$VENV" \
      || die "could not create the venv $PREFIX$VENV (see above). Is python3-venv installed? sudo apt-get install python3-venv"
  fi
  say "installing barriosms and its dependencies into $PREFIX$VENV (needs the internet the first time)"
  # From a clean copy of the sources: pip builds in the folder it is given, and root-owned build
  # files left in the technician's clone would get in the way of git and ./scripts/test.
  if [ "$dry_run" = 1 ]; then
    fs "$PREFIX$VENV/bin/python" -m pip install --disable-pip-version-check --no-input --upgrade "$SRC"
  else
    build="$(mktemp -d "${TMPDIR:-/tmp}/barriosms-install.XXXXXX")"
    trap 'rm -rf -- "$build"' EXIT
    tar -C "$SRC" --exclude=__pycache__ --exclude='*.pyc' -cf - setup.cfg pyproject.toml README.md barriosms \
      | tar -C "$build" -xf -
    if ! "$PREFIX$VENV/bin/python" -m pip install --disable-pip-version-check --no-input -q --upgrade "$build"; then
      if [ "$system_gammu" = 0 ]; then
        die "pip could not install barriosms (see above). Is the machine online (ping -c1 pypi.org)? If python-gammu was the problem: sudo BARRIOSMS_SYSTEM_GAMMU=1 $0 (uses Debian's python3-gammu)"
      fi
      die "pip could not install barriosms (see above). Is the machine online (ping -c1 pypi.org)? Then run this installer again"
    fi
    # (pip always reinstalls from a folder, even at the same version: the new code is what runs.)
    "$PREFIX$VENV/bin/barriosms" --version >/dev/null \
      || die "$PREFIX$VENV/bin/barriosms does not run (see above): remove the venv (sudo rm -rf $PREFIX$VENV) and run this installer again"
    note "$("$PREFIX$VENV/bin/barriosms" --version)"
  fi
fi
fs install -m 0644 "$SRC/README.md" "$PREFIX$OPT/README.md"
[ -f "$SRC/docs/raspberry-pi.md" ] && fs install -m 0644 "$SRC/docs/raspberry-pi.md" "$PREFIX$OPT/docs/raspberry-pi.md"
[ -f "$SRC/docs/website.md" ] && fs install -m 0644 "$SRC/docs/website.md" "$PREFIX$OPT/docs/website.md"
if [ "$dry_run" = 0 ]; then
  printf 'version=%s\ncommit=%s\nsource=%s\ninstalled=%s\n' "$version" "${commit:-unknown}" "$SRC" \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" > "$PREFIX$OPT/installed-from"
fi

# ---------------------------------------------------------------------------------------------
# Configuration

config="$PREFIX$ETC/barriosms.ini"
db_path="$DATA/barriosms.db"
[ -n "$root_dir" ] && db_path="$PREFIX$DATA/barriosms.db"
# Where the configuration finds the editable SMS texts and keywords (inside DIR with --root).
etc_path="$PREFIX$ETC"

say "configuration in $PREFIX$ETC"
fs install -d -m 0755 "$PREFIX$ETC"
if [ -e "$config" ]; then
  note "keeping $config: the installer never overwrites it. New settings, if any, are in"
  note "$config.example (compare: diff $config.example $config)"
elif [ "$dry_run" = 1 ]; then
  note "would write $config from config/barriosms.ini.example with [database] path = $db_path and [modem] device = $DEVICE"
else
  new="$PREFIX$ETC/.barriosms.ini.new"
  # The SMS texts and keywords: the editable copies installed beside it (what the technician
  # edits must be what runs), in place of the example's commented-out ;replies = / ;categories =.
  awk -v db="$db_path" -v dev="$DEVICE" -v etc="$etc_path" -v when="$(date +%Y-%m-%d)" '
    NR == 1 { print "; Written by scripts/install.sh on " when " from config/barriosms.ini.example;"
              print "; the installer never overwrites it. Check it with: barriosms config check" }
    /^[ \t]*\[/ { s = $0; gsub(/[ \t]/, "", s) }
    s == "[database]" && /^path[ \t]*=/ { print "path = " db; seen_db = 1; next }
    s == "[modem]" && /^device[ \t]*=/ {
      print "; " dev " is the name the udev rule 99-barriosms-modem.rules gives the AT port of known"
      print "; sticks; if `barriosms modem detect` finds the modem on another port, put its"
      print "; /dev/serial/by-id/... name here instead."
      print "device = " dev; seen_dev = 1; next }
    s == "[gateway]" && /^;?[ \t]*replies[ \t]*=/ { print "replies = " etc "/replies.es.ini"; seen_replies = 1; next }
    s == "[gateway]" && /^;?[ \t]*categories[ \t]*=/ {
      print "categories = " etc "/categories.es.ini"; seen_categories = 1; next }
    { print }
    END { if (!seen_db || !seen_dev || !seen_replies || !seen_categories) exit 3 }' \
    "$SRC/config/barriosms.ini.example" > "$new" \
    || { rm -f -- "$new"; die "config/barriosms.ini.example lacks one of the lines the installer fills in ([database] path, [modem] device, [gateway] replies and categories): restore it (git checkout -- config/barriosms.ini.example)"; }
  chmod 0640 "$new"
  mv -n -- "$new" "$config"
  rm -f -- "$new"
  note "wrote $config ([database] path = $db_path, [modem] device = $DEVICE,"
  note "[gateway] replies and categories = the copies in $etc_path)"
fi
own root:"$APP_USER" "$config"
fs install -m 0644 "$SRC/config/barriosms.ini.example" "$config.example"
for f in "${EXAMPLES[@]}"; do
  if [ -e "$PREFIX$ETC/$f" ]; then
    note "keeping $PREFIX$ETC/$f"
  else
    fs install -m 0644 "$SRC/config/$f" "$PREFIX$ETC/$f"
    note "example $PREFIX$ETC/$f"
  fi
done
# An earlier installer put the copies here but left the keys commented out, so edits to them
# changed nothing. The technician's file is not rewritten: say what to add to it.
if [ -e "$config" ]; then
  missing=()
  unused=()
  for key in replies categories; do
    if [ -z "$(config_value gateway "$key" "$config")" ]; then
      missing+=("$key = $etc_path/$key.es.ini")
      unused+=("$key.es.ini")
    fi
  done
  if [ ${#missing[@]} -gt 0 ]; then
    warn "$config does not use the copies in $etc_path: editing them changes nothing (the built-in texts run)."
    printf '    They may be older than the built-in texts; compare first, e.g.:\n' >&2
    for f in "${unused[@]}"; do
      printf '        diff %s %s\n' "$SRC/config/$f" "$etc_path/$f" >&2
    done
    printf '    To use them, add under [gateway] in %s:\n' "$config" >&2
    printf '        %s\n' "${missing[@]}" >&2
    printf '    then check and apply: barriosms config check && sudo systemctl reload barriosms && sudo systemctl restart barriosms-web\n' >&2
  fi
fi

# ---------------------------------------------------------------------------------------------
# Data

say "data in $PREFIX$DATA (mode 0750, owner $APP_USER), backups in $PREFIX$BACKUPS"
fs install -d -m 0750 "$PREFIX$DATA" "$PREFIX$BACKUPS"
# Recursive: a database once created by root (sudo barriosms db migrate) would stop the daemon.
own -R "$APP_USER:$APP_USER" "$PREFIX$DATA"

if [ -z "$root_dir" ] && [ "$dry_run" = 0 ] && ! runuser -u "$APP_USER" -- test -r "$PREFIX$ETC/barriosms.ini"; then
  die "the $APP_USER user cannot read $ETC/barriosms.ini: sudo chown root:$APP_USER $ETC/barriosms.ini && sudo chmod 0640 $ETC/barriosms.ini"
fi

# ---------------------------------------------------------------------------------------------
# Database

say "database: create or migrate"
if [ -z "$root_dir" ]; then
  bin="$VENV/bin/barriosms"
  db_now="$(config_db_path "$config" 2>/dev/null || true)"
  # A schema upgrade is the moment a backup is worth most: made when `barriosms backup` exists.
  if [ "$dry_run" = 0 ] && [ -n "$db_now" ] && [ -e "$db_now" ] \
     && ! runuser -u "$APP_USER" -- "$bin" --config "$config" db status >/dev/null 2>&1 \
     && "$bin" backup --help >/dev/null 2>&1; then
    say "backing up the database before upgrading its schema"
    runuser -u "$APP_USER" -- "$bin" --config "$config" backup \
      || die "the backup before the schema upgrade failed (see above). Fix it, or move on without one: sudo -u $APP_USER $bin --config $config db migrate; then run this installer again"
  fi
  sys runuser -u "$APP_USER" -- "$bin" --config "$config" db migrate \
    || die "the database migration failed (see above). Check: sudo -u $APP_USER $bin --config $config config check"
else
  py="${BARRIOSMS_PYTHON:-$PREFIX$VENV/bin/python}"
  if [ -x "$py" ] || [ "$dry_run" = 1 ]; then
    fs "$py" -m barriosms --config "$config" db migrate \
      || die "the database migration failed (see above); check: $py -m barriosms --config $config config check"
  else
    note "no Python to migrate with ($py does not exist: set BARRIOSMS_PYTHON or add --with-venv)"
    printf 'would run: %s\n' "$(show "$py" -m barriosms --config "$config" db migrate)"
  fi
fi

# ---------------------------------------------------------------------------------------------
# udev: /dev/gsmmodem

say "udev rule $UDEV_DIR/$RULE ($DEVICE for the modem's AT port, group dialout)"
fs install -d -m 0755 "$PREFIX$UDEV_DIR"
fs install -m 0644 "$SRC/systemd/$RULE" "$PREFIX$UDEV_DIR/$RULE"
if [ -n "$root_dir" ] || udev_running; then
  sys udevadm control --reload
  sys udevadm trigger --subsystem-match=tty
else
  warn "udev is not running here (a container?): the rule takes effect at the next boot"
fi

# ---------------------------------------------------------------------------------------------
# systemd

say "systemd units in $UNIT_DIR: ${UNITS[*]}"
fs install -d -m 0755 "$PREFIX$UNIT_DIR"
for u in "${UNITS[@]}"; do
  fs install -m 0644 "$SRC/systemd/$u" "$PREFIX$UNIT_DIR/$u"
done
started=1
if [ -n "$root_dir" ] || systemd_running; then
  sys systemctl daemon-reload
  if ! sys systemctl enable --now barriosms.service barriosms-backup.timer; then
    started=0
  fi
  # The website apart: the gateway keeps working when it cannot start (a port in use).
  if ! sys systemctl enable --now barriosms-web.service; then
    warn "the website did not start (journalctl -u barriosms-web -n 50; [web] listen in $ETC/barriosms.ini); the SMS gateway is not affected. Then: sudo systemctl restart barriosms-web"
  fi
  stopped_for_upgrade=0
else
  started=0
  warn "systemd is not running here (a container?): the units are not started (systemctl enable --now barriosms barriosms-web barriosms-backup.timer once it is)"
fi

# ---------------------------------------------------------------------------------------------

if [ "$dry_run" = 0 ] && [ -z "$root_dir" ]; then
  if check="$(runuser -u "$APP_USER" -- "$VENV/bin/barriosms" --config "$config" config check 2>&1)"; then
    say "config check:"
    printf '%s\n' "$check" | sed 's/^/    /'
  else
    warn "barriosms config check found problems in $config:"
    printf '%s\n' "$check" >&2
  fi
fi

say "done."
if [ -z "$root_dir" ]; then
  cat <<EOF
    configuration: $ETC/barriosms.ini   (edit it, then: sudo systemctl reload barriosms)
    database:      ${db_now:-$DATA/barriosms.db}
    backups:       $BACKUPS   (daily: systemctl list-timers barriosms-backup.timer)
    The staff command runs as the barriosms user, e.g.:
      sudo -u barriosms $VENV/bin/barriosms --config $ETC/barriosms.ini modem status
    Is it running?  systemctl status barriosms      Its log:  journalctl -u barriosms -f
    The website:    systemctl status barriosms-web  on [web] listen (127.0.0.1:8080 unless changed);
                    a reverse proxy with TLS in front: see docs/website.md
    Is /dev/gsmmodem the right port?  see docs/raspberry-pi.md, "Check the modem port"
EOF
fi
if [ "$started" = 0 ] && systemd_running && [ "$dry_run" = 0 ]; then
  die "barriosms did not start (see above and: journalctl -u barriosms -n 50). Fix the cause, then: sudo systemctl restart barriosms"
fi
