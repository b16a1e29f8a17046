#!/usr/bin/env bash
# Installs, from Debian 12 packages (and ONNX Runtime from the npm registry), everything this
# project needs to build, test, benchmark and train. Idempotent and non-interactive; returns at
# once when everything is already present.
# Usage: tools/setup.sh [--with-fuzz]
#   --with-fuzz:  clang and its libFuzzer/sanitizer runtimes for tests/fuzz
#   (--with-torch is still accepted: PyTorch is now always installed, the tests use it)
set -euo pipefail

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
)
# ONNX Runtime's CPU build for Linux x64, from the npm registry, run under Node.js.
onnxruntime_version=1.30.0
for arg in "$@"; do
  case "$arg" in
    --with-torch) ;;
    --with-fuzz) packages+=(clang-14 libclang-rt-14-dev) ;;
    *) echo "setup: unknown option '$arg' (expected --with-torch or --with-fuzz)" >&2; exit 2 ;;
  esac
done

command -v npm >/dev/null || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed; then
    missing+=("$p")
  fi
done
# Installs ONNX Runtime for Node.js globally unless that version is there (--ignore-scripts: its
# install script would download more; the package ships the Linux x64 library itself).
install_onnxruntime() {
  local dir
  dir="$(npm root -g)/onnxruntime-node"
  if [[ -f "$dir/package.json" ]] && grep -q "\"version\": \"$onnxruntime_version\"" "$dir/package.json"; then
    return 0
  fi
  echo "setup: installing onnxruntime-node@$onnxruntime_version (npm)"
  if ! npm install -g --ignore-scripts --no-audit --no-fund "onnxruntime-node@$onnxruntime_version" >/dev/null; then
    echo "setup: FAILED to install onnxruntime-node@$onnxruntime_version with npm" >&2
    return 1
  fi
}

if [[ ${#missing[@]} -eq 0 ]]; then
  install_onnxruntime
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
  sudo=()
elif command -v sudo >/dev/null; then
  sudo=(sudo)
else
  echo "setup: need root or sudo to install: ${missing[*]}" >&2
  exit 1
fi

echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq || { echo "setup: apt-get update failed" >&2; exit 1; }
if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; then
  echo "setup: FAILED to install: ${missing[*]}" >&2
  exit 1
fi
for p in "${missing[@]}"; do
  if ! dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed; then
    echo "setup: FAILED: package $p is still not installed" >&2
    exit 1
  fi
done
install_onnxruntime
echo "setup: installed ${#missing[@]} package(s)"
