"""Compare two activation files layer by layer (rule similarity_pair): the pair's tidy
table and its HDF5 file of coefficient vectors (and, for an analysis with `matrix: true`,
its layer x layer matrix by the primary measure)."""

from closerlook import compare, layer_matrix, logs

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
if p.matrix:
    options = {"keep": p.keep, "epsilon": p.epsilon, "device": p.device, "precision": p.precision}
    m = layer_matrix.add_matrix(pair, snakemake.input.a, snakemake.input.b, p.matrix, **options)
    log.info("layer x layer matrix by %s over %d layers", p.matrix, len(m))
compare.write_coefficients(pair, snakemake.output.coefficients)
compare.write_table(pair.table, snakemake.output.table)
log.info("%s: %d rows", snakemake.output.table, len(pair.table))
