"""Compare two activation files layer by layer (rule similarity_pair): the pair's tidy
table and its HDF5 file of coefficient vectors."""

from closerlook import compare, logs

log = logs.setup(snakemake.log[0])
p = snakemake.params
pair = compare.compare_pair(
    snakemake.input.a,
    snakemake.input.b,
    analysis=snakemake.wildcards.analysis,
    methods=p.methods,
    keep=p.keep,
    epsilon=p.epsilon,
    baseline=p.baseline,
    seed=p.seed,
    device=p.device,
    precision=p.precision,
    replicate=int(snakemake.wildcards.seed),
    replicate_b=p.seed_b,
)
compare.write_coefficients(pair, snakemake.output.coefficients)
compare.write_table(pair.table, snakemake.output.table)
log.info("%s: %d rows", snakemake.output.table, len(pair.table))
