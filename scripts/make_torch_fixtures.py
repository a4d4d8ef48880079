#!/usr/bin/env python3
"""Writes the PyTorch fixtures of the `pytorch_import` test (tests/fixtures/torch/).

Two small PyTorch models with fixed seeds, their `state_dict()` saved with
`safetensors.torch.save_file` (exactly what a PyTorch user would hand over), and a few inputs with
PyTorch's outputs on them:

- `mlp.safetensors`: `nn.Sequential(Linear(64, 32), ReLU, Linear(32, 16), ReLU, Linear(16, 10))`,
  so the tensors are named by index (`0.weight`, `2.bias`, ...); Trefoil's `mlp` with hidden
  layers [32, 16] has the same layer indices (fc1, act1, fc2, act2, out).
- `mlp_bf16.safetensors`, `mlp_f16.safetensors`: the same weights in half precision.
- `cnn.safetensors`: Trefoil's `digits_cnn` as an `nn.Module` with the attribute names
  `conv1`, `conv2`, `fc` (the same parameter names as Trefoil's). Conv weights are
  `[out, in, kh, kw]`, Linear weights `[out, in]`; ReLU before max-pooling, as usual in PyTorch
  (Trefoil pools first; the two orders compute the same function).
- `outputs.safetensors`: `mlp.x` [16, 64], `mlp.y` [16, 10], `cnn.x` [16, 1, 8, 8],
  `cnn.y` [16, 10] (float32; inputs uniform in [0, 1), like the digits scaled by 1/16).

Usage (needs torch and safetensors; the fixtures are committed, so only to regenerate them):
    python scripts/make_torch_fixtures.py [OUT_DIR]
"""

import os
import sys

import torch
from safetensors.torch import save_file
from torch import nn


class DigitsCnn(nn.Module):
    """Trefoil's `digits_cnn`: conv3x3x16 (pad 1), pool 2, conv3x3x32 (pad 1), pool 2, fc128x10."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc = nn.Linear(128, 10)

    def forward(self, x):
        x = nn.functional.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = nn.functional.max_pool2d(torch.relu(self.conv2(x)), 2)
        return self.fc(torch.flatten(x, 1))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default = os.path.join(here, "..", "tests", "fixtures", "torch")
    out = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else default)
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(2024)
    torch.use_deterministic_algorithms(True)

    mlp = nn.Sequential(
        nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 10)
    ).eval()
    cnn = DigitsCnn().eval()
    mlp_x = torch.rand(16, 64)
    cnn_x = torch.rand(16, 1, 8, 8)
    with torch.no_grad():
        mlp_y = mlp(mlp_x)
        cnn_y = cnn(cnn_x)

    meta = {"torch": torch.__version__}
    save_file(mlp.state_dict(), os.path.join(out, "mlp.safetensors"), metadata=meta)
    for name, dtype in (("bf16", torch.bfloat16), ("f16", torch.float16)):
        half = {k: v.to(dtype) for k, v in mlp.state_dict().items()}
        save_file(half, os.path.join(out, f"mlp_{name}.safetensors"), metadata=meta)
    save_file(cnn.state_dict(), os.path.join(out, "cnn.safetensors"), metadata=meta)
    save_file(
        {"mlp.x": mlp_x, "mlp.y": mlp_y, "cnn.x": cnn_x, "cnn.y": cnn_y},
        os.path.join(out, "outputs.safetensors"),
        metadata=meta,
    )
    for f in sorted(os.listdir(out)):
        print(f"{os.path.join(out, f)}: {os.path.getsize(os.path.join(out, f))} bytes")


if __name__ == "__main__":
    main()
