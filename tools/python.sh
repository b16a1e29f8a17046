#!/usr/bin/env bash
# The project's Python: Debian's /usr/bin/python3 inside the virtual environment tools/setup.sh
# makes (it sees Debian's torch, torchvision, onnx, PIL and numpy, and adds ONNX Runtime from
# PyPI). Every test, tool and benchmark that runs Python runs it through this script.
#   tools/python.sh SCRIPT.py [ARGS...]      tools/python.sh -c 'import onnxruntime'
#   tools/python.sh --peers ...              the peers' environment (tools/setup.sh --with-peers)
source "$(dirname "${BASH_SOURCE[0]}")/venv.sh"
venv=$dlf_venv setup=tools/setup.sh
if [[ ${1:-} == --peers ]]; then
  shift
  venv=$dlf_peers_venv setup="tools/setup.sh --with-peers"
fi
if [[ ! -x "$venv/bin/python3" ]]; then
  echo "tools/python.sh: expected a Python environment at $venv, found none: run $setup" >&2
  exit 127
fi
exec "$venv/bin/python3" "$@"
