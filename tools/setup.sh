#!/usr/bin/env bash
# Installs everything this project needs to build, test, benchmark and train: Debian 12 packages
# (apt), and into one Python environment the few pinned packages Debian does not have (PyPI).
# Nothing else is fetched. Idempotent and non-interactive; returns at once when everything is
# present; an install that fails names the package.
# Usage: tools/setup.sh [--with-fuzz] [--with-peers]
#   --with-fuzz:  clang and its libFuzzer/sanitizer runtimes for tests/fuzz
#   --with-peers: the peers benchmarks/compare_peers.py times dlf against, in an environment of
#                 their own ($dlf_peers_venv): PyTorch 2 (eager and torch.compile), torchvision,
#                 OpenVINO and ONNX Runtime, every package pinned in tools/peers-requirements.txt.
#                 About 5.7 GB: PyPI's torch wheel needs the CUDA libraries at import, even on a
#                 machine without a GPU. Nothing of it is installed without the flag.
#   --with-onednn3: oneDNN 3.x from PyPI for benchmarks/compare_onednn.py, each in an environment
#                 of its own: 3.13.2 ($dlf_onednn3_venv, tools/onednn3-requirements.txt, ~2.1 GB)
#                 and 3.2.0 on GNU OpenMP ($dlf_onednn3_gomp_venv, ~0.2 GB).
#   (--with-torch is still accepted: PyTorch is always installed, the tests use it)
set -euo pipefail
source "$(dirname "$0")/venv.sh"

packages=(
  bazel-bootstrap        # Bazel 4.2.3, WORKSPACE mode
  bazel-rules-java       # rules_java that works with Bazel 4.2.3 (/usr/share/bazel/rules/java)
  g++
  libdnnl-dev            # oneDNN 2.6.3
  libabsl-dev            # Abseil LTS 20220623
  libgtest-dev
  libgmock-dev
  libbenchmark-dev       # Google Benchmark 1.7.1
  zlib1g-dev
  nlohmann-json3-dev
  libstb-dev             # image decoding (PNG, JPEG, BMP), writing and resizing for predict
  libjpeg62-turbo-dev    # libjpeg-turbo: JPEG decoding with DCT scaling and regions, for image folders
  libpng-dev             # PNG decoding (1.3x stb's speed)
  dataset-fashion-mnist  # real data for the default training run and the LeNet-5 example
  jargon-text            # the Jargon File, 1.6 M characters of UTF-8 prose: language models' default text
  openmpi-bin            # Open MPI 4.1.4: mpirun, for data-parallel training
  libopenmpi-dev         # its headers and libmpi
  # The peers the interop tests check against: PyTorch (state_dicts in, its modules load our
  # checkpoints; without OpenBLAS its Linear layers fall back to reference BLAS, ~30x slower),
  # torchvision, ONNX (checker, shape inference, the generated protobuf classes for export).
  python3-torch
  libopenblas0-pthread
  python3-torchvision
  python3-pil
  python3-onnx
  libonnx-dev
  libprotobuf-dev
  python3-venv           # the project's Python environment below
)

# PyPI packages, each pinned, installed with --no-deps into $dlf_venv (tools/venv.sh): a virtual
# environment of Debian's /usr/bin/python3 made with --system-site-packages, so one process sees
# Debian's torch, torchvision, onnx, PIL and numpy beside these. tools/python.sh runs it.
#   onnxruntime: ONNX Runtime's CPU build, the second reader of every ONNX file dlf exports
#     (tests/models/onnx, tools_test, benchmarks/compare_peers.py via tools/onnx_run.py). Its
#     InferenceSession needs only numpy, which stays Debian's 1.24; the other requirements it
#     declares (flatbuffers, packaging, protobuf>=4.25.8) serve its conversion and quantization
#     tools, which nothing here runs, and leaving them out keeps Debian's protobuf (the one
#     python3-onnx is built with) the only one in the environment.
pypi_packages=(
  onnxruntime==1.31.1
)

# --with-onednn3: PyPI's last CPU-only oneDNN 3 (onednn-cpu-gomp, 2023.2.0 = 3.2.0), threaded
# by GNU OpenMP as Debian's 2.6.3 and dlf's own loops are.
onednn3_gomp_packages=(
  onednn-cpu-gomp==2023.2.0
  onednn-devel-cpu-gomp==2023.2.0
)
# 3.13's SYCL runtime finds the CPU through its OpenCL adapter, which the 2026.2 runtime on PyPI
# lacks (intel-cmplr-lib-ur 2026.2.0 ships only Level Zero's, for GPUs: "SYCL cpu devices
# queried but not found"); 2025.3.3's adapter is the same Unified Runtime (0.12) and works with
# it. It goes into its own prefix, $dlf_onednn3_venv/ur-opencl, which compare_onednn.py names.
onednn3_adapter=intel-cmplr-lib-ur==2025.3.3

with_peers=0
with_onednn3=0
for arg in "$@"; do
  case "$arg" in
    --with-torch) ;;
    --with-fuzz) packages+=(clang-14 libclang-rt-14-dev) ;;
    --with-peers) with_peers=1 ;;
    --with-onednn3) with_onednn3=1 ;;
    *) echo "setup: unknown option '$arg' (expected --with-fuzz, --with-peers or --with-onednn3)" >&2; exit 2 ;;
  esac
done
requirements() { grep -v '^\s*\(#\|$\)' "$(dirname "$0")/$1"; }
peers_packages=()
[[ $with_peers -eq 0 ]] || mapfile -t peers_packages < <(requirements peers-requirements.txt)
onednn3_packages=()
[[ $with_onednn3 -eq 0 ]] || mapfile -t onednn3_packages < <(requirements onednn3-requirements.txt)
[[ $with_onednn3 -eq 1 ]] || onednn3_gomp_packages=()

installed() { dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null | grep -qx installed; }

# Prints each NAME==VERSION of "$@" that the environment $1 lacks at exactly that version.
pypi_missing() {
  local venv=$1
  shift
  if [[ ! -x "$venv/bin/python3" ]]; then
    printf '%s\n' "$@"
    return
  fi
  "$venv/bin/python3" - "$@" <<'PY'
import sys
from importlib.metadata import PackageNotFoundError, version
for spec in sys.argv[1:]:
    name, wanted = spec.split("==")
    try:
        have = version(name)
    except PackageNotFoundError:
        have = None
    if have != wanted:
        print(spec)
PY
}

missing=()
for p in "${packages[@]}"; do installed "$p" || missing+=("$p"); done
mapfile -t pypi_todo < <(pypi_missing "$dlf_venv" "${pypi_packages[@]}")
peers_todo=()
[[ $with_peers -eq 0 ]] || mapfile -t peers_todo < <(pypi_missing "$dlf_peers_venv" "${peers_packages[@]}")
onednn3_todo=()
onednn3_gomp_todo=()
adapter_todo=()
if [[ $with_onednn3 -eq 1 ]]; then
  mapfile -t onednn3_todo < <(pypi_missing "$dlf_onednn3_venv" "${onednn3_packages[@]}")
  mapfile -t onednn3_gomp_todo < <(pypi_missing "$dlf_onednn3_gomp_venv" "${onednn3_gomp_packages[@]}")
  [[ -f $dlf_onednn3_venv/ur-opencl/lib/libur_adapter_opencl.so.0 ]] || adapter_todo=("$onednn3_adapter")
fi
pypi_total=$((${#pypi_packages[@]} + ${#peers_packages[@]} + ${#onednn3_packages[@]} + ${#onednn3_gomp_packages[@]}))
pypi_count=$((${#pypi_todo[@]} + ${#peers_todo[@]} + ${#onednn3_todo[@]} + ${#onednn3_gomp_todo[@]} + ${#adapter_todo[@]}))

if [[ ${#missing[@]} -eq 0 && $pypi_count -eq 0 ]]; then
  echo "setup: all ${#packages[@]} packages and $pypi_total PyPI package(s) present"
  exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
  sudo=()
elif command -v sudo >/dev/null; then
  sudo=(sudo)
else
  echo "setup: need root or sudo to install: ${missing[*]} ${pypi_todo[*]} ${peers_todo[*]}" \
    "${onednn3_todo[*]} ${onednn3_gomp_todo[*]} ${adapter_todo[*]}" >&2
  exit 1
fi

if [[ ${#missing[@]} -gt 0 ]]; then
  echo "setup: installing ${missing[*]}"
  "${sudo[@]}" apt-get update -qq || { echo "setup: apt-get update failed" >&2; exit 1; }
  if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; then
    echo "setup: FAILED to install: ${missing[*]}" >&2
    exit 1
  fi
  for p in "${missing[@]}"; do
    installed "$p" || { echo "setup: FAILED: package $p is still not installed" >&2; exit 1; }
  done
fi
# Images that drop /usr/share/doc (a dpkg path-exclude) install jargon-text without its text.
default_text=/usr/share/doc/jargon-text/jargon.txt.gz
if [[ ! -f $default_text ]]; then
  echo "setup: FAILED: $default_text is missing although jargon-text is installed (is /usr/share/doc" \
    "excluded in /etc/dpkg/dpkg.cfg.d?)" >&2
  exit 1
fi

# Makes the environment $1 (from Debian's python3; $2: its venv flags) unless it is there, then
# installs "${@:3}" into it with --no-deps, one at a time, so that a failure names its package.
# With PIP_PREFIX_DIR set, into that prefix instead (with the environment's pip).
install_pypi() {
  local venv=$1 flags=$2 spec log target=()
  shift 2
  # --ignore-installed: else pip would uninstall the environment's own version of the package.
  [[ -z ${PIP_PREFIX_DIR:-} ]] || target=(--prefix "$PIP_PREFIX_DIR" --ignore-installed)
  if [[ ! -x "$venv/bin/python3" ]]; then
    echo "setup: making the Python environment $venv (Debian's python3${flags:+, $flags})"
    # shellcheck disable=SC2086
    "${sudo[@]}" /usr/bin/python3 -m venv --clear $flags "$venv" ||
      { echo "setup: FAILED to make the Python environment $venv" >&2; exit 1; }
  fi
  for spec in "$@"; do
    echo "setup: installing $spec (PyPI) into ${PIP_PREFIX_DIR:-$venv}"
    if ! log=$("${sudo[@]}" "$venv/bin/python3" -m pip install -q --no-input --disable-pip-version-check \
                 --no-deps "${target[@]}" "$spec" 2>&1); then
      echo "setup: FAILED to install $spec from PyPI into ${PIP_PREFIX_DIR:-$venv}; pip said:" >&2
      tail -n 5 <<<"$log" >&2
      exit 1
    fi
  done
}

if [[ ${#pypi_todo[@]} -gt 0 ]]; then
  install_pypi "$dlf_venv" --system-site-packages "${pypi_todo[@]}"
  if ! check=$("$dlf_venv/bin/python3" -c 'import numpy, torch, onnx, onnxruntime; print(numpy.__file__)' 2>&1) ||
     [[ $check != /usr/lib/python3/dist-packages/* ]]; then
    echo "setup: FAILED: $dlf_venv does not import numpy (Debian's), torch, onnx and onnxruntime together:" >&2
    echo "$check" >&2
    exit 1
  fi
fi
if [[ ${#peers_todo[@]} -gt 0 ]]; then
  install_pypi "$dlf_peers_venv" "" "${peers_todo[@]}"
  if ! check=$("$dlf_peers_venv/bin/python3" -c 'import torch, torchvision, openvino, onnxruntime; print(torch.__version__)' 2>&1); then
    echo "setup: FAILED: $dlf_peers_venv does not import torch, torchvision, openvino and onnxruntime:" >&2
    echo "$check" >&2
    exit 1
  fi
  echo "setup: the peers' environment $dlf_peers_venv: torch $check, $(du -sh "$dlf_peers_venv" | cut -f1)"
fi
[[ ${#onednn3_todo[@]} -eq 0 ]] || install_pypi "$dlf_onednn3_venv" "" "${onednn3_todo[@]}"
[[ ${#adapter_todo[@]} -eq 0 ]] || PIP_PREFIX_DIR=$dlf_onednn3_venv/ur-opencl install_pypi "$dlf_onednn3_venv" "" "${adapter_todo[@]}"
[[ ${#onednn3_gomp_todo[@]} -eq 0 ]] || install_pypi "$dlf_onednn3_gomp_venv" "" "${onednn3_gomp_todo[@]}"
if [[ $with_onednn3 -eq 1 ]]; then
  for lib in "$dlf_onednn3_venv/lib/libdnnl.so.3" "$dlf_onednn3_venv/include/oneapi/dnnl/dnnl.hpp" \
             "$dlf_onednn3_venv/ur-opencl/lib/libur_adapter_opencl.so.0" \
             "$dlf_onednn3_gomp_venv/lib/libdnnl.so.3" "$dlf_onednn3_gomp_venv/include/oneapi/dnnl/dnnl.hpp"; do
    [[ -f $lib ]] || { echo "setup: FAILED: $lib is missing after installing oneDNN 3" >&2; exit 1; }
  done
  echo "setup: oneDNN 3 in $dlf_onednn3_venv ($(du -sh "$dlf_onednn3_venv" | cut -f1)) and" \
       "$dlf_onednn3_gomp_venv ($(du -sh "$dlf_onednn3_gomp_venv" | cut -f1))"
fi
echo "setup: installed ${#missing[@]} Debian package(s) and $pypi_count PyPI package(s)"
