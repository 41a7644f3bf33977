#!/usr/bin/env bash
# The main job: installs dependencies, builds, and runs `beanbag serve` — with no arguments
# it serves the built-in demo model on http://127.0.0.1:8080 (OpenAI-compatible API).
# Any arguments replace the default, e.g. `bash scripts/run.sh serve -m model.gguf` or
# `bash scripts/run.sh chat`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ $# -eq 0 ]; then
  set -- serve --port 8080
fi
exec build/beanbag "$@"
