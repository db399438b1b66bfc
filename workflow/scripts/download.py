"""Fetch CIFAR-10's python archive into data.data_dir (rule download_cifar10)."""

from pathlib import Path

from closerlook import data, logs

logs.setup(snakemake.log[0])
data.download_cifar10(Path(snakemake.output[0]).parent)
