"""Room to write: a file that cannot fit is refused before it is started, with one line
that says how much it needs and how much there is, instead of failing half-way (HDF5 can
bring the process down after a failed write)."""

from __future__ import annotations

import resource
import shutil
from pathlib import Path


class DiskSpaceError(OSError):
    """Not enough room for a file about to be written; the message is one line."""

    def __init__(self, message: str):
        super().__init__(" ".join(message.split()))


def size(n: float) -> str:
    """Bytes in decimal units: "512 B", "231.4 KB", "11.1 GB"."""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)


def room(folder: Path) -> int:
    """Bytes one file may take in `folder`: the free space of its file system, and at most
    the process's file size limit (RLIMIT_FSIZE) where one is set."""
    folder = next((p for p in [folder, *folder.parents] if p.exists()), Path("."))
    free = shutil.disk_usage(folder).free
    limit, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    return free if limit == resource.RLIM_INFINITY else min(free, limit)


def check_room(path: str | Path, needed: int, what: str) -> None:
    """Raise DiskSpaceError unless `needed` bytes fit beside `path`."""
    path = Path(path)
    have = room(path.parent)
    if needed > have:
        raise DiskSpaceError(
            f"{path}: {what} needs up to {size(needed)}, but only {size(have)} can be written "
            f"in {path.parent}; free some space (or move results_dir) and rerun"
        )
