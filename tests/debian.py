"""System programs the tests need from Debian packages, installed with apt-get when missing
(the SLURM cluster's daemons, HDF5 1.10's command-line readers)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence


def system_program(name: str) -> str | None:
    """The path of a system program, also where PATH lacks the sbin folders."""
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")


def apt_install(packages: Sequence[str], programs: Sequence[str]) -> str | None:
    """Install Debian `packages` with apt-get unless every one of `programs` is there
    already (the package lists refreshed once if the first try fails); the reason to skip,
    or None when the programs are there."""
    if all(system_program(p) for p in programs):
        return None
    what = " and ".join(packages)
    if os.geteuid() != 0:
        return f"{what} not installed and installing needs root"
    if not shutil.which("apt-get"):
        return f"{what} not installed and there is no apt-get to install it"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages]
    done = subprocess.run(install, capture_output=True, text=True, env=env)
    if done.returncode != 0:  # stale or empty package lists: refresh once
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, env=env)
        done = subprocess.run(install, capture_output=True, text=True, env=env)
    if done.returncode != 0 or not all(system_program(p) for p in programs):
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-5:])
        return f"could not install {' '.join(packages)} with apt-get:\n{tail}"
    return None
