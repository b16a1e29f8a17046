#!/bin/bash
# Runs the trainings whose per-step losses and checkpoint tensors must stay bit-identical across
# a refactor of the training application (issue 32): lenet, alexnet-seed, alexnet-cifar and
# resnet20 for 6 steps, lenet on 2 ranks, and a whole lenet epoch (evaluation, best.safetensors,
# metrics.csv). Build the train binary at each commit, run this with each, then compare:
#
#   bazel build -c opt //models:train && cp bazel-bin/models/train /tmp/train_before   # at the old commit
#   tools/bit_identity.sh /tmp/train_before /tmp/before
#   tools/bit_identity.sh bazel-bin/models/train /tmp/after                            # at the new one
#   python3 tools/bit_identity.py /tmp/before /tmp/after
set -euo pipefail
binary=$(realpath "$1")
out=$2
mkdir -p "$out"
steps=(--max_steps=6 --log_step_losses --threads=2)
"$binary" --model=lenet --dataset=fashion_mnist --epochs=1 --batch_size=32 "${steps[@]}" --checkpoint_dir="$out/lenet" > "$out/lenet.log" 2>&1
"$binary" --model=alexnet-seed --dataset=fashion_mnist --epochs=1 --batch_size=16 "${steps[@]}" --checkpoint_dir="$out/alexnet-seed" > "$out/alexnet-seed.log" 2>&1
"$binary" --model=alexnet-cifar --dataset=synthetic --epochs=1 --batch_size=16 "${steps[@]}" --checkpoint_dir="$out/alexnet-cifar" > "$out/alexnet-cifar.log" 2>&1
"$binary" --model=resnet20 --dataset=synthetic --epochs=1 --batch_size=16 "${steps[@]}" --checkpoint_dir="$out/resnet20" > "$out/resnet20.log" 2>&1
mpirun --allow-run-as-root --oversubscribe -np 2 "$binary" --model=lenet --dataset=fashion_mnist --epochs=1 \
  --batch_size=32 --max_steps=6 --log_step_losses --threads=1 --checkpoint_dir="$out/lenet2" > "$out/lenet2.log" 2>&1
"$binary" --model=lenet --dataset=fashion_mnist --epochs=1 --batch_size=64 --log_step_losses --threads=2 \
  --checkpoint_dir="$out/lenet_epoch" > "$out/lenet_epoch.log" 2>&1
echo "runs in $out"
