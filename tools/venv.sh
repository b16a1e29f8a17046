# Sourced by tools/setup.sh (which makes them) and tools/python.sh (which runs them): where the
# project's Python environments live. Outside the work tree, so every clone on a machine shares
# them.
#   dlf_venv:        Debian's python3 with --system-site-packages (Debian's torch 1.13, onnx,
#                    PIL, numpy) plus ONNX Runtime: what the tests and tools use.
#   dlf_peers_venv:  tools/setup.sh --with-peers only: its own PyTorch 2, torchvision, OpenVINO
#                    and ONNX Runtime (Debian's packages hidden), for benchmarks/compare_peers.py.
dlf_venv=/opt/dlf-venv
dlf_peers_venv=/opt/dlf-peers-venv
#   dlf_onednn3_venv, dlf_onednn3_gomp_venv: tools/setup.sh --with-onednn3 only: oneDNN 3.x from
#                    PyPI (3.13.2 on SYCL and TBB; 3.2.0 on GNU OpenMP) for
#                    benchmarks/compare_onednn.py; WORKSPACE names the same paths.
dlf_onednn3_venv=/opt/dlf-onednn3
dlf_onednn3_gomp_venv=/opt/dlf-onednn3-gomp
