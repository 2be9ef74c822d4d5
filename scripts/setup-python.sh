#!/usr/bin/env bash
# Creates .venv in the repo root and installs requirements-test.txt into it.
# Idempotent: skips pip when .venv/.requirements.sha256 matches the requirements file.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
req="$root/requirements-test.txt"
stamp="$venv/.requirements.sha256"
log="$venv/.setup-python.log"
python="${PYTHON:-python3}"

if ! command -v "$python" >/dev/null 2>&1; then
  echo "setup-python: $python not found; install Python 3.11+ first" >&2
  exit 1
fi

# hashlib instead of sha256sum/shasum: the one tool guaranteed here is python3.
want="$("$python" -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' "$req")"

# A venv whose interpreter no longer runs (python moved or upgraded) is rebuilt.
if [[ -d "$venv" ]] && ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
  rm -rf "$venv"
fi

if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -x "$venv/bin/moto_server" ]]; then
  echo "setup-python: .venv up to date"
  exit 0
fi

start=$SECONDS
if [[ ! -x "$venv/bin/python" ]]; then
  if ! "$python" -m venv "$venv" >/dev/null 2>&1; then
    rm -rf "$venv"
    echo "setup-python: '$python -m venv' failed (on Debian/Ubuntu: apt-get install python3-venv)" >&2
    exit 1
  fi
fi

rm -f "$stamp"
if ! "$venv/bin/python" -m pip install --disable-pip-version-check --no-input -q -r "$req" >"$log" 2>&1; then
  cat "$log" >&2
  echo "setup-python: pip install failed (log: $log)" >&2
  exit 1
fi
printf '%s\n' "$want" >"$stamp"
echo "setup-python: installed requirements-test.txt into .venv in $((SECONDS - start))s"
