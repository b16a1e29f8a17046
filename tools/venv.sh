# Sourced by tools/setup.sh (which makes it) and tools/python.sh (which runs it): where the
# project's Python environment lives. Outside the work tree, so every clone on a machine shares it.
dlf_venv=/opt/dlf-venv
