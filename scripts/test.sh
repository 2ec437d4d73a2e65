#!/usr/bin/env bash
# Install stateof with its test dependencies into .venv and run the whole test suite.
# Usage: ./scripts/test.sh [pytest args...]
# Set STATEOF_TEST_DATABASE_URL=postgresql+psycopg://USER@HOST:5432/DB to run it on PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${STATEOF_VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip >/dev/null
"$VENV/bin/python" -m pip install --quiet -e '.[test]'
set +e
"$VENV/bin/python" -m pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: failing on purpose" >&2
  exit 1
fi
exit "$status"
