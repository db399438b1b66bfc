"""Dump the probe-set activations of one checkpoint (rule activations)."""

from closerlook import activation_file, activations, logs, points
from closerlook.device import limit_threads

log = logs.setup(snakemake.log[0])
limit_threads(snakemake.threads)
s = snakemake.params.settings
path = activations.dump_checkpoint(
    checkpoint=snakemake.input.checkpoint,
    out=snakemake.output[0],
    data_config=s["data"],
    probe=s["probe"],
    epoch=points.parse(snakemake.wildcards.point),
    device=snakemake.config["device"],
)
with activation_file.ActivationFile(path) as f:
    for layer in f.layers():
        log.info("%s: %s %s, %d bytes", layer.name, layer.shape, layer.dtype, layer.stored_bytes)
    log.info("%s: %d probe images, %d bytes", path, len(f.probe), path.stat().st_size)
