#!/usr/bin/env bash
# Regenerate deploy/requirements.lock: the application's pinned, hashed dependencies (with the
# parquet extra) that the Docker image installs. Run it after changing pyproject.toml's dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${STATEOF_VENV:-.venv}
"$VENV/bin/python" -m pip install --quiet pip-tools
"$VENV/bin/pip-compile" --quiet --generate-hashes --allow-unsafe --strip-extras --extra parquet \
  --no-emit-index-url --no-emit-find-links --output-file deploy/requirements.lock pyproject.toml
echo "wrote deploy/requirements.lock"
