#!/usr/bin/env bash
# Installs everything the kit needs on a fresh machine (Python 3.11+, Node 20+ and npm):
# uv in .tools/uv, the project and its locked dependencies in .venv, the CDK CLI and Node 22 in
# node_modules, checkov in its own environment (it pins packages that clash with pulumi).
# Safe to run again: each step is skipped or made a no-op when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION="0.13.9"
say() { printf 'bootstrap: %s\n' "$*" >&2; }

python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    say "error: Python 3.11 or newer is needed as '$python' (set PYTHON=/path/to/python3.11)"
    exit 1
fi

uv=.tools/uv/bin/uv
if [ ! -x "$uv" ] || [ "$("$uv" --version | cut -d' ' -f2)" != "$UV_VERSION" ]; then
    say "installing uv $UV_VERSION into .tools/uv"
    "$python" -m venv .tools/uv
    .tools/uv/bin/python -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
fi

say "syncing .venv from uv.lock"
UV_PYTHON="$python" "$uv" sync --frozen --quiet

if [ -f package-lock.json ] && [ "${BOOTSTRAP_SKIP_NODE:-}" != "1" ]; then
    if ! command -v npm >/dev/null; then
        say "error: npm is needed for the CDK CLI (install Node.js 20 or newer)"
        exit 1
    fi
    if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
        say "installing the CDK CLI and Node 22 from package-lock.json"
        npm ci --no-audit --no-fund --loglevel=error
    fi
fi

if [ -f tools/checkov/requirements.txt ] && [ "${BOOTSTRAP_SKIP_CHECKOV:-}" != "1" ]; then
    stamp=.tools/checkov/.requirements.txt
    if [ ! -f "$stamp" ] || ! cmp -s tools/checkov/requirements.txt "$stamp"; then
        say "installing checkov into .tools/checkov"
        "$uv" venv --quiet --python "$python" .tools/checkov
        VIRTUAL_ENV=.tools/checkov "$uv" pip install --quiet -r tools/checkov/requirements.txt
        cp tools/checkov/requirements.txt "$stamp"
    fi
fi
