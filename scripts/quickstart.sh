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
if [ -t 0 ] && [ -t 1 ] && [ -z "${STATEOF_NO_RUN:-}" ]; then
  # The bot itself on the embedded SQLite default (./stateof.db). With no Slack or Discord
  # configured it opens the terminal chat; q stops it, and running it again resumes.
  echo "Starting the bot: $VENV/bin/stateof run (no Slack/Discord configured: terminal chat; q to stop)"
  exec "$VENV/bin/stateof" run
fi
echo "Next: $VENV/bin/stateof run    (the bot; with no Slack/Discord it opens the terminal chat)"
echo "      $VENV/bin/stateof chat   (answer the survey in your terminal)"
