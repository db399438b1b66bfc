"""Safe writes and provenance, shared by every artifact.

Every artifact is written to a temporary name in its own folder and renamed with
`os.replace` once complete, so a killed job never leaves a file under the final name that
looks complete. Every artifact records where it came from (DESIGN.md §4).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from closerlook import __version__


@contextlib.contextmanager
def atomic_path(final: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `final`; rename it to `final` only if the block succeeds."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()


def sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def record(**fields: Any) -> dict[str, Any]:
    """Provenance fields common to all artifacts, plus the given ones."""
    import torch

    return {
        "closerlook_version": __version__,
        "torch_version": torch.__version__,
        "created": now(),
        "host": socket.gethostname(),
        **fields,
    }


def write_attrs(node: Any, fields: dict[str, Any]) -> None:
    """Store provenance fields as HDF5 attributes (mappings and lists as JSON text)."""
    for key, value in fields.items():
        if isinstance(value, dict | list):
            value = json.dumps(value)
        elif isinstance(value, str):
            value = str(value)  # plain str: h5py cannot store str subclasses
        node.attrs[key] = value
