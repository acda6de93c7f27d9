#!/usr/bin/env bash
# Set-up for the native stack: Redis and nginx (apt-get as root), the virtual environment and the
# pinned dependencies. Idempotent, and safe when several copies run at once: a lock serialises
# them; the second waits, then reuses what the first installed.
#   scripts/setup.sh              runtime: redis-server, nginx, .venv with requirements.txt
#   scripts/setup.sh --docs       also Sphinx for `make docs`: requirements-docs.txt
#   scripts/setup.sh --test       also the test tools: requirements-dev.txt (docs included), chromium, wrk,
#                                 postgresql, rclone, and the npm clients of tests/system/clients (npm ci),
#                                 prometheus (prometheus and promtool for the monitoring tests)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV=${VENV:-$ROOT/.venv}
WITH_TEST=${1:-}

mkdir -p "$ROOT/var"
exec 9>"$ROOT/var/setup.lock"
if ! flock -n 9; then
    echo "setup: another set-up is running; waiting for it"
    flock 9
fi

say() { echo "setup: $*"; }

need_packages=()
command -v redis-server >/dev/null || need_packages+=(redis-server)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need_packages+=(nginx-light)
command -v flock >/dev/null || need_packages+=(util-linux)
if [ "$WITH_TEST" = "--test" ]; then
    command -v wrk >/dev/null || need_packages+=(wrk)
    [ -x /usr/bin/chromium ] || need_packages+=(chromium)
    command -v rclone >/dev/null || need_packages+=(rclone)
    command -v npm >/dev/null || need_packages+=(npm)
    # the service tier's PostgreSQL backends run against a real server (tests/conftest.py starts it)
    compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need_packages+=(postgresql)
    command -v promtool >/dev/null && command -v prometheus >/dev/null || need_packages+=(prometheus)
fi
if [ ${#need_packages[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        say "installing ${need_packages[*]} with apt-get"
        export DEBIAN_FRONTEND=noninteractive
        apt-get -q -o DPkg::Lock::Timeout=300 update >/dev/null || say "apt-get update reported errors; trying anyway"
        apt-get -q -o DPkg::Lock::Timeout=300 install -y --no-install-recommends "${need_packages[@]}" >/dev/null
    else
        echo "setup: missing ${need_packages[*]}: run 'sudo apt-get install ${need_packages[*]}' (Debian/Ubuntu) and retry" >&2
        exit 1
    fi
fi

# Debian's own python3.11 is built with optimisations; a pyenv build on PATH may not be.
PYTHON=${PYTHON:-}
if [ -z "$PYTHON" ]; then
    for candidate in /usr/bin/python3.11 /usr/bin/python3 python3; do
        if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys, venv; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            PYTHON=$candidate; break
        fi
    done
fi
[ -n "$PYTHON" ] || { echo "setup: Python 3.11 or newer with venv is required" >&2; exit 1; }

case "$WITH_TEST" in
    --test) requirements=requirements-dev.txt ;;
    --docs) requirements=requirements-docs.txt ;;
    *) requirements=requirements.txt ;;
esac
stamp="$VENV/.hipflask-$(cat requirements*.txt "$requirements" shared/pyproject.toml | sha256sum | cut -c1-16)-${requirements%.txt}"
if [ ! -f "$stamp" ]; then
    if [ ! -x "$VENV/bin/python" ]; then
        say "creating $VENV with $PYTHON"
        "$PYTHON" -m venv "$VENV"
    fi
    say "installing $requirements"
    "$VENV/bin/pip" install -q --disable-pip-version-check -r "$requirements"
    "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps -e shared
    touch "$stamp"
fi
if [ "$WITH_TEST" = "--test" ]; then
    clients=tests/system/clients
    clients_stamp="$clients/node_modules/.hipflask-$(sha256sum "$clients/package-lock.json" | cut -c1-16)"
    if [ ! -f "$clients_stamp" ]; then
        say "installing the npm clients of $clients (npm ci)"
        (cd "$clients" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
        touch "$clients_stamp"
    fi
fi
say "ready ($VENV)"
