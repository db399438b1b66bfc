"""Compare two activation files layer by layer (rule similarity_pair): the pair's tidy
table and its HDF5 file of coefficient vectors (and, for an analysis with `matrix: true`,
its layer x layer matrix by the primary measure)."""

from closerlook import compare, layer_matrix, logs
from closerlook.device import limit_threads

log = logs.setup(snakemake.log[0])
limit_threads(snakemake.threads)  # the profile gives cluster jobs more (set-threads)
s = snakemake.params.settings
sim, device = s["similarity"], snakemake.config["device"]
pair = compare.compare_pair(
    snakemake.input.a,
    snakemake.input.b,
    analysis=snakemake.wildcards.analysis,
    methods=sim["methods"],
    keep=sim["keep"],
    epsilon=sim["epsilon"],
    baseline=sim["baseline"],
    shuffle_seed=sim["seed"],
    device=device,
    precision=sim["precision"],
    replicate=int(snakemake.wildcards.seed),
    replicate_b=s["replicate_b"],
    # the analysis' names: a run identical to another reads that run's network
    names=(snakemake.wildcards.run_a, snakemake.wildcards.run_b),
    minibatch_size=sim["minibatch_size"],
)
if s["matrix"]:
    options = {k: sim[k] for k in ("keep", "epsilon", "precision", "minibatch_size")}
    m = layer_matrix.add_matrix(
        pair, snakemake.input.a, snakemake.input.b, s["matrix"], device=device, **options
    )
    log.info("layer x layer matrix by %s over %d layers", s["matrix"], len(m))
compare.write_coefficients(pair, snakemake.output.coefficients)
compare.write_table(pair.table, snakemake.output.table)
log.info("%s: %d rows", snakemake.output.table, len(pair.table))
