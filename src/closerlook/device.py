"""Choosing the compute device (`auto` is CUDA where it exists, else the CPU) and the
threads a job computes with."""

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


def limit_threads(threads: int) -> None:
    """Compute with `threads` threads, torch's and the BLAS/OpenMP pools NumPy and SciPy
    use (threadpoolctl), for the rest of the process: a job given one core by the
    scheduler does not start one BLAS thread per core of the machine. Two similarity jobs
    on 2 cores, each with a 2-thread BLAS, took 4× as long as with one thread each."""
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)
    threadpool_limits(limits=threads)
