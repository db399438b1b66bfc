"""Every HDF5 file closerlook writes opens in HDF5 1.10 (closerlook.hdf5_format): Debian's
`h5ls -r` and `h5dump -H` 1.10 (package hdf5-tools, installed here with apt-get when
missing) list every object of an activation, a similarity and a curve file without error,
and h5py reads every dataset back."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import h5py
import numpy as np
import pytest

from closerlook import hdf5_format

from debian import apt_install, system_program

FILES = {
    "activations": "runs/step/seed0/activations/step000006.h5",
    "similarity": "similarity/init_small_batch/seed0/small_batch.e000--small_batch.step000006.h5",
    "curve": "curves/sgdr_restarts/seed0.h5",
}


@pytest.fixture(scope="module")
def tools() -> dict[str, str]:
    """h5ls and h5dump of Debian's hdf5-tools, which must be HDF5 1.10 or older."""
    reason = apt_install(["hdf5-tools"], ["h5ls", "h5dump"])
    if reason:
        pytest.skip(reason)
    found = {name: system_program(name) for name in ("h5ls", "h5dump")}
    version = run([found["h5ls"], "--version"]).stdout
    major, minor = map(int, re.search(r"Version (\d+)\.(\d+)", version).groups())
    if (major, minor) > (1, 10):
        pytest.skip(f"hdf5-tools here is HDF5 {major}.{minor}, newer than 1.10: {version}")
    return found


def run(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def datasets(path: Path) -> list[str]:
    names: list[str] = []
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else 0)
    return names


def assert_old_readers_open(path: Path, tools: dict[str, str]) -> None:
    listed = run([tools["h5ls"], "-r", str(path)])
    assert listed.returncode == 0 and "ERROR" not in listed.stdout + listed.stderr, listed
    for name in datasets(path):
        assert re.search(rf"^/{re.escape(name)}\s+Dataset \{{", listed.stdout, re.M), name
    header = run([tools["h5dump"], "-H", str(path)])
    assert header.returncode == 0 and "error" not in header.stderr.lower(), header.stderr
    superblock = run([tools["h5dump"], "-B", "-H", str(path)]).stdout
    assert int(re.search(r"SUPERBLOCK_VERSION (\d+)", superblock).group(1)) <= 3


@pytest.mark.parametrize("kind", FILES)
def test_hdf5_1_10_lists_and_dumps_every_file_closerlook_writes(small_study, tools, kind):
    path = small_study / FILES[kind]
    with h5py.File(path, "r") as f:
        assert f.attrs["kind"] == kind
    assert_old_readers_open(path, tools)


@pytest.mark.parametrize("kind", FILES)
def test_h5py_reads_every_dataset_and_metadata_keeps_its_checksums(small_study, kind):
    with h5py.File(small_study / FILES[kind], "r") as f:
        for name in datasets(small_study / FILES[kind]):
            assert np.asarray(f[name][()]).size >= 0
            # object header version 2 (HDF5 1.8+) is checksummed; version 1 is not
            assert h5py.h5o.get_info(f[name].id).hdr.version == 2, name


def test_the_checker_sees_a_file_that_hdf5_1_10_cannot_read(tools, tmp_path):
    """The format h5py's latest bound writes (HDF5 2.0 inside current wheels) fails in
    1.10, so the checks above would catch a writer that loses the shared bound."""
    latest, bounded = tmp_path / "latest.h5", tmp_path / "bounded.h5"
    for f in (h5py.File(latest, "w", libver="latest"), hdf5_format.create(bounded)):
        with f:
            f.create_dataset("x", data=np.ones((4, 3)), chunks=(2, 3), fletcher32=True)
    if h5py.version.hdf5_version_tuple >= (2, 0):
        listed = run([tools["h5ls"], "-r", str(latest)]).stdout
        assert "*ERROR*" in listed, listed
    assert_old_readers_open(bounded, tools)
