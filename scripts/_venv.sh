# shellcheck shell=bash
# Sourced by scripts/test and scripts/demo: make ./.venv ready with barriosms installed.
# Works on a fresh Debian 12 / Raspberry Pi OS machine; stops with the exact command to run when
# something must come from the system instead.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${BARRIOSMS_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"

die() { echo "barriosms setup: $*" >&2; exit 1; }

command -v "$PY" >/dev/null || die "python3 not found. Install it: sudo apt-get install python3 python3-venv"
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || die "Python >= 3.11 is needed, $("$PY" -V 2>&1) found. Debian 12 / Raspberry Pi OS (bookworm) ship 3.11."

# python-gammu publishes wheels (with Gammu inside) for x86_64 and aarch64 only. Elsewhere (32-bit
# Raspberry Pi OS) we use Debian's python3-gammu through --system-site-packages. The userland decides,
# not the kernel: 32-bit Raspberry Pi OS often runs a 64-bit kernel (uname -m says aarch64).
if command -v dpkg >/dev/null 2>&1; then
  arch="$(dpkg --print-architecture)"
else
  arch="$(uname -m)"
fi
system_gammu=0
case "$arch" in
  x86_64|amd64|aarch64|arm64) ;;
  *) system_gammu=1 ;;
esac
[ "${BARRIOSMS_SYSTEM_GAMMU:-0}" = 1 ] && system_gammu=1
if [ "$system_gammu" = 1 ]; then
  "$PY" -c 'import gammu' 2>/dev/null \
    || die "no python-gammu wheel exists for $arch. Install Debian's build first: sudo apt-get install python3-gammu   then run this command again."
fi

stamp="$VENV/.barriosms-installed"
want="$(cat "$ROOT/setup.cfg" "$ROOT/pyproject.toml" | sha256sum | cut -c1-16)-$system_gammu"
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -c 'import venv, ensurepip' 2>/dev/null \
    || die "the Python venv module is missing. Install it: sudo apt-get install python3-venv"
  if [ "$system_gammu" = 1 ]; then
    "$PY" -m venv --system-site-packages "$VENV"
  else
    "$PY" -m venv "$VENV"
  fi
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "barriosms setup: installing into $VENV (once; again only when setup.cfg changes)" >&2
  if ! "$VENV/bin/python" -m pip install --disable-pip-version-check -q -e "${ROOT}[test]"; then
    die "pip could not install the dependencies (see above). If python-gammu failed to build: sudo apt-get install python3-gammu, then: rm -rf .venv && BARRIOSMS_SYSTEM_GAMMU=1 $0"
  fi
  echo "$want" > "$stamp"
fi
export PATH="$VENV/bin:$PATH"
