"""Dump the probe-set activations of one checkpoint (rule activations)."""

from closerlook import activations, logs

logs.setup(snakemake.log[0])
activations.dump_checkpoint(
    checkpoint=snakemake.input.checkpoint,
    out=snakemake.output[0],
    data_config=snakemake.params.data,
    probe=snakemake.params.probe,
    epoch=int(snakemake.wildcards.epoch),
    device=snakemake.config["device"],
)
