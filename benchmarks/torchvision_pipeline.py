#!/usr/bin/env python3
"""torchvision's input pipeline on an image folder, timed as image_folder_benchmark times
dlf's: ImageFolder + RandomResizedCrop(224) + RandomHorizontalFlip + ToTensor + Normalize
(ImageNet), DataLoader(batch_size=64, num_workers=N, shuffle=True), images/s over whole epochs
after one warm-up epoch.

  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 benchmarks/torchvision_pipeline.py \\
      /tmp/dlf_image_folder_benchmark --workers=2 --seconds=20
"""
import argparse
import os
import time

import torch
import torchvision
from torchvision import transforms


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data_dir")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--batch_size", type=int, default=64)
    p.add_argument("--seconds", type=float, default=20)
    a = p.parse_args()
    root = os.path.join(a.data_dir, "train") if os.path.isdir(os.path.join(a.data_dir, "train")) else a.data_dir
    tf = transforms.Compose([transforms.RandomResizedCrop(224), transforms.RandomHorizontalFlip(), transforms.ToTensor(),
                             transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    dataset = torchvision.datasets.ImageFolder(root, tf)
    loader = torch.utils.data.DataLoader(dataset, batch_size=a.batch_size, shuffle=True, num_workers=a.workers,
                                         drop_last=True, persistent_workers=a.workers > 0)
    for _ in loader:  # warm-up: workers started, files in the page cache
        pass
    images, start = 0, time.perf_counter()
    while time.perf_counter() - start < a.seconds:
        for batch, _ in loader:
            images += batch.shape[0]
    elapsed = time.perf_counter() - start
    print(f"torchvision {torchvision.__version__}, {len(dataset)} images in {root}, num_workers={a.workers}, "
          f"torch threads {torch.get_num_threads()}: {images / elapsed:.1f} images/s")


if __name__ == "__main__":
    main()
