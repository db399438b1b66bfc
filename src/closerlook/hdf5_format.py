"""The HDF5 file format of every file closerlook writes (activations, similarity pairs,
curves): one bound, set here, so that every reader opens them.

h5py wheels bundle HDF5 2.0, whose ``libver="latest"`` is the 2.0 file format: HDF5 1.10
(Debian's `hdf5-tools`, most distributions' h5py and MATLAB) and even 1.14 cannot read its
dataset layout messages. :data:`LIBVER` pins the format to HDF5 1.10's, at both ends:

- the low bound ``v110`` makes HDF5 use the checksummed structures, superblock 3, object
  headers 2 and the 1.10 chunk indexes, so a flipped byte of the metadata fails on read
  (``earliest`` would drop those checksums);
- the high bound ``v110`` keeps anything newer out, so HDF5 1.10 and later read every
  file (tests/unit/test_hdf5_readers.py checks them with `h5ls` and `h5dump` 1.10).
"""

from __future__ import annotations

from pathlib import Path

import h5py

# (low, high) bounds of the format versions HDF5 may use for objects it writes.
LIBVER = ("v110", "v110")


def create(path: str | Path) -> h5py.File:
    """A new HDF5 file at `path` (truncating one there) in the format of :data:`LIBVER`."""
    return h5py.File(path, "w", libver=LIBVER)
