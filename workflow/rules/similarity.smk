# Similarity: one job per pair of activation files of the same seed, or of seeds k and
# k+1 for an across_seeds analysis (a tidy table and an HDF5 file of coefficient vectors),
# then one tidy table per analysis holding every seed.


rule similarity_pair:
    input:
        unpack(pair_activations),
    output:
        table=pair_table(
            "{analysis}", "{seed}", "{run_a}", "{epoch_a}", "{run_b}", "{epoch_b}"
        ),
        coefficients=pair_coefficients(
            "{analysis}", "{seed}", "{run_a}", "{epoch_a}", "{run_b}", "{epoch_b}"
        ),
    log:
        f"{LOGS}/similarity/{{analysis}}/seed{{seed}}/{{run_a}}.e{{epoch_a}}--{{run_b}}.e{{epoch_b}}.log",
    wildcard_constraints:
        run_a="[A-Za-z0-9_]+",
        run_b="[A-Za-z0-9_]+",
        epoch_a=r"\d{3}",
        epoch_b=r"\d{3}",
    conda:
        CONDA_ENV
    params:
        methods=config["similarity"]["methods"],
        keep=config["similarity"]["keep"],
        epsilon=config["similarity"]["epsilon"],
        baseline=config["similarity"]["baseline"],
        seed=config["similarity"]["seed"],
        seed_b=lambda wildcards: study.partner_seed(
            config, wildcards.analysis, wildcards.seed
        ),
        precision=config["similarity"]["precision"],
        device=config["device"],
    script:
        "../scripts/similarity_pair.py"


rule similarity_table:
    input:
        analysis_pair_tables,
    output:
        similarity_table("{analysis}"),
    log:
        f"{LOGS}/similarity/{{analysis}}.log",
    localrule: True
    conda:
        CONDA_ENV
    script:
        "../scripts/similarity_table.py"
