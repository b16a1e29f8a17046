# Sourced by tools/setup.sh (which makes them) and tools/python.sh (which runs them): where the
# project's Python environments live. Outside the work tree, so every clone on a machine shares
# them.
#   dlf_venv:        Debian's python3 with --system-site-packages (Debian's torch 1.13, onnx,
#                    PIL, numpy) plus ONNX Runtime: what the tests and tools use.
#   dlf_peers_venv:  tools/setup.sh --with-peers only: its own PyTorch 2, torchvision, OpenVINO
#                    and ONNX Runtime (Debian's packages hidden), for benchmarks/compare_peers.py.
dlf_venv=/opt/dlf-venv
dlf_peers_venv=/opt/dlf-peers-venv
