#!/usr/bin/env bash
# Install stateof into .venv and run the quick start demo (synthetic data) into ./stateof-demo.
# Usage: ./scripts/quickstart.sh [stateof demo options...]
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${STATEOF_VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip >/dev/null
"$VENV/bin/python" -m pip install --quiet -e .
"$VENV/bin/stateof" demo "$@"
echo
echo "Next: $VENV/bin/stateof chat   (answer the survey in your terminal)"
echo "      $VENV/bin/stateof run    (the bot; see README for Slack and Discord)"
