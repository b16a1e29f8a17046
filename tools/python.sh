#!/usr/bin/env bash
# The project's Python: Debian's /usr/bin/python3 inside the virtual environment tools/setup.sh
# makes (it sees Debian's torch, torchvision, onnx, PIL and numpy, and adds ONNX Runtime from
# PyPI). Every test, tool and benchmark that runs Python runs it through this script.
#   tools/python.sh SCRIPT.py [ARGS...]      tools/python.sh -c 'import onnxruntime'
source "$(dirname "${BASH_SOURCE[0]}")/venv.sh"
if [[ ! -x "$dlf_venv/bin/python3" ]]; then
  echo "tools/python.sh: expected the project's Python environment at $dlf_venv, found none: run tools/setup.sh" >&2
  exit 127
fi
exec "$dlf_venv/bin/python3" "$@"
