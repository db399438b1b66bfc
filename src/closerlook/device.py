"""Choosing the compute device: `auto` is CUDA where it exists, else the CPU."""

from __future__ import annotations

import torch


def resolve(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was requested but torch finds no CUDA device")
    return torch.device(name)
