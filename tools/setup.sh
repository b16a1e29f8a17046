#!/usr/bin/env bash
# Installs, from Debian 12 packages, everything this project needs to build, test, benchmark and
# train. Idempotent and non-interactive; returns at once when everything is already present.
# Usage: tools/setup.sh [--with-torch] [--with-fuzz]
#   --with-torch: PyTorch for benchmarks/compare_pytorch.py
#   --with-fuzz:  clang and its libFuzzer/sanitizer runtimes for tests/fuzz
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
  dataset-fashion-mnist  # real data for the default training run and the LeNet-5 example
  openmpi-bin            # Open MPI 4.1.4: mpirun, for data-parallel training
  libopenmpi-dev         # its headers and libmpi
)
for arg in "$@"; do
  case "$arg" in
    # Without OpenBLAS torch's Linear layers fall back to reference BLAS (~30x slower).
    --with-torch) packages+=(python3-torch libopenblas0-pthread) ;;
    --with-fuzz) packages+=(clang-14 libclang-rt-14-dev) ;;
    *) echo "setup: unknown option '$arg' (expected --with-torch or --with-fuzz)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed; then
    missing+=("$p")
  fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
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
echo "setup: installed ${#missing[@]} package(s)"
