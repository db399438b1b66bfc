"""Compare two activation files layer by layer (rule similarity_pair)."""

from closerlook import compare, logs

log = logs.setup(snakemake.log[0])
table = compare.compare_files(
    snakemake.input.a,
    snakemake.input.b,
    analysis=snakemake.wildcards.analysis,
    methods=snakemake.params.methods,
    keep=snakemake.params.keep,
    epsilon=snakemake.params.epsilon,
)
compare.write_table(table, snakemake.output[0])
log.info("%s: %d rows", snakemake.output[0], len(table))
