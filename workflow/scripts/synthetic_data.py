"""Write the CIFAR-shaped archive of random class patterns (rule synthetic_cifar10)."""

from pathlib import Path

from closerlook import logs, synthetic

log = logs.setup(snakemake.log[0])
s = snakemake.params.settings
folder = synthetic.write_archive(
    Path(snakemake.output[0]).parent, s["train"], s["val"], s.get("seed", 0)
)
log.info(
    "%s: %d training and %d validation images of random class patterns (not CIFAR-10)",
    folder,
    s["train"],
    s["val"],
)
