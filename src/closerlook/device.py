"""Choosing the compute device: `auto` is CUDA where it exists, else the CPU."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


def resolve(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was requested but torch finds no CUDA device")
    return torch.device(name)


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Run the block with one intra-op torch thread, then restore the count: small
    problems (a small net, a 128 × 128 factorisation) gain less from threads than they
    lose in synchronisation, and do not fight other processes for the cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
