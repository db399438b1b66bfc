"""Safe writes, provenance and integrity, shared by every artifact.

Every artifact is written to a temporary name in its own folder and renamed with
`os.replace` once complete, so a killed job never leaves a file under the final name that
looks complete. Every artifact records where it came from (docs/architecture.md, artifacts).

Integrity is checked on read, so a job fails instead of computing numbers from bad data:

- a torch file (checkpoint, curve bends) carries the SHA-256 of its contents, tensors and
  plain values (:func:`seal`), recomputed by :func:`load_sealed`; pickle and zip alone
  would load a file with altered weights without complaint;
- a downstream artifact records the SHA-256 of the files it was made from, and a job that
  reads it checks that those files, where they still exist, still have it
  (:func:`verify_source`);
- HDF5 datasets carry Fletcher-32 checksums, which HDF5 checks on every read.

Every failure is an :class:`IntegrityError` of one line naming the path and the remedy.
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

# What to do about a damaged or stale artifact: Snakemake rebuilds a missing file.
REBUILD = "delete it and rerun snakemake to rebuild it"
# The key under which a sealed torch file keeps the SHA-256 of its contents.
SEAL = "content_sha256"


class IntegrityError(RuntimeError):
    """An artifact that is truncated, altered, or made from a file that has changed since."""

    def __init__(self, message: str):
        super().__init__(" ".join(message.split()))  # always one line


class UnsafeFileError(IntegrityError):
    """A torch file holding objects closerlook never writes (refused before they are made:
    loading a file never runs code from it)."""


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
        "torch_version": str(torch.__version__),
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


# ------------------------------------------------------------------------- integrity
def content_sha256(obj: Any) -> str:
    """SHA-256 over a nested structure of mappings and sequences, in a fixed order: every
    tensor's place, dtype, shape and bytes, and every plain value (str, number, bool,
    None) with its place. Other objects are left out."""
    import torch

    h = hashlib.sha256()

    def walk(node: Any, where: str) -> None:
        if isinstance(node, torch.Tensor):
            t = node.detach().cpu().contiguous()
            h.update(f"{where}|{t.dtype}|{tuple(t.shape)}|".encode())
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
        elif isinstance(node, dict):
            for key in sorted(node, key=str):
                if key != SEAL:
                    walk(node[key], f"{where}/{key}")
        elif isinstance(node, list | tuple):
            for i, item in enumerate(node):
                walk(item, f"{where}/{i}")
        elif node is None or isinstance(node, str | int | float | bool):
            h.update(f"{where}|{type(node).__name__}|{node!r}\n".encode())

    walk(obj, "")
    return h.hexdigest()


def seal(obj: dict[str, Any]) -> dict[str, Any]:
    """`obj` with the SHA-256 of its contents under :data:`SEAL`, for :func:`load_sealed`."""
    return {**obj, SEAL: content_sha256(obj)}


def read_torch(path: str | Path, map_location: Any = "cpu") -> dict[str, Any]:
    """Read a torch file without running code from it: unpickled with `weights_only=True`,
    which builds tensors, numbers, strings, lists and dicts (all closerlook writes) and
    refuses any other type before it is made (:class:`UnsafeFileError`). Unreadable files
    (truncated, not a torch file, not a mapping) raise :class:`IntegrityError`. The seal is
    not checked here (:func:`seal_status`, :func:`load_sealed`)."""
    import pickle

    import torch

    path = Path(path)
    if not path.is_file():
        raise IntegrityError(f"{path}: no such file; rerun snakemake to build it")
    try:
        # torch's version string type: the one non-builtin type files written before
        # closerlook stored it as str hold (a str subclass, safe to build)
        with torch.serialization.safe_globals([torch.torch_version.TorchVersion]):
            obj = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        if "weights only" in str(exc).lower():
            found = _refused_type(str(exc))
            raise UnsafeFileError(
                f"{path}: holds {found}, which closerlook never writes; it was not loaded and "
                f"nothing in it ran. Do not use a file of unknown origin; {REBUILD}"
            ) from None
        raise _unreadable(path, exc) from exc
    except Exception as exc:  # noqa: BLE001 - zip, pickle and OS errors all mean a bad file
        raise _unreadable(path, exc) from exc
    if not isinstance(obj, dict):
        raise IntegrityError(f"{path}: holds a {type(obj).__name__}, not a mapping; {REBUILD}")
    return obj


def seal_status(obj: dict[str, Any]) -> str:
    """ "verified" (the contents match their seal), "missing" or "mismatch"."""
    expected = obj.get(SEAL)
    if expected is None:
        return "missing"
    return "verified" if content_sha256(obj) == expected else "mismatch"


def load_sealed(path: str | Path, map_location: Any = "cpu") -> dict[str, Any]:
    """:func:`read_torch`, then refuse a file without a seal or whose contents differ from
    the SHA-256 sealed into it when written (:class:`IntegrityError`)."""
    obj = read_torch(path, map_location)
    status = seal_status(obj)
    if status == "missing":
        raise IntegrityError(
            f"{path}: has no seal (closerlook seals every torch file it writes), so its "
            f"contents cannot be checked; {REBUILD}"
        )
    if status == "mismatch":
        raise IntegrityError(
            f"{path}: its contents do not match the SHA-256 recorded when it was written "
            f"(the file is corrupt); {REBUILD}"
        )
    return obj


def _unreadable(path: Path, exc: Exception) -> IntegrityError:
    reason = " ".join(f"{type(exc).__name__}: {exc}".split())[:200]
    return IntegrityError(
        f"{path}: unreadable, truncated or not a torch file ({reason}); {REBUILD}"
    )


def _refused_type(message: str) -> str:
    """The global the weights-only unpickler refused, from its message (GLOBAL a.b)."""
    import re

    m = re.search(r"GLOBAL ([\w.]+)", message) or re.search(r"global ([\w.]+)", message)
    return f"a reference to {m.group(1)}" if m else "an object of a type it does not allow"


def verify_source(source: str | Path | None, expected: str | None, recorded_in: str | Path) -> None:
    """Check that `source`, recorded with SHA-256 `expected` in the provenance of
    `recorded_in`, still has it. A source that no longer exists (or was not recorded) is
    not checked: the recording artifact stands on its own."""
    if not source or not expected or not Path(source).is_file():
        return
    actual = sha256(source)
    if actual != expected:
        raise IntegrityError(
            f"{recorded_in} was made from {source} with SHA-256 {expected[:12]}…, but that "
            f"file now has {actual[:12]}… (it changed or is corrupt); if {source} is right, "
            f"delete {recorded_in} and rerun snakemake, else delete {source} and rerun "
            f"snakemake to rebuild both"
        )
