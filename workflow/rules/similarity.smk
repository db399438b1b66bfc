# Similarity: one job per pair of activation files of the same seed, or of seeds k and
# its partner k + 500 for an across_seeds analysis (a tidy table and an HDF5 file of coefficient vectors),
# then one tidy table per analysis holding every seed. An analysis with `matrix: true`
# also gets a layer x layer matrix per pair (in its HDF5 file) and one tidy table of them.


rule similarity_pair:
    input:
        unpack(pair_activations),
    output:
        table=pair_table(
            "{analysis}", "{seed}", "{run_a}", "{point_a}", "{run_b}", "{point_b}"
        ),
        coefficients=pair_coefficients(
            "{analysis}", "{seed}", "{run_a}", "{point_a}", "{run_b}", "{point_b}"
        ),
    log:
        f"{LOGS}/similarity/{{analysis}}/seed{{seed}}/{{run_a}}.{{point_a}}--{{run_b}}.{{point_b}}.log",
    wildcard_constraints:
        run_a="[A-Za-z0-9_]+",
        run_b="[A-Za-z0-9_]+",
        # e020 (an epoch) or step000200 (an optimizer step)
        point_a=r"e\d{3}|step\d{6}",
        point_b=r"e\d{3}|step\d{6}",
    conda:
        CONDA_ENV
    resources:
        **planned_resources("similarity_pair", mem_mb=64000, runtime=240),
    params:
        settings=similarity_settings,
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


rule similarity_matrix_table:
    input:
        analysis_pair_coefficients,
    output:
        similarity_matrix_table("{analysis}"),
    log:
        f"{LOGS}/similarity/{{analysis}}.matrix.log",
    wildcard_constraints:
        analysis=analysis_pattern(matrix_only=True),
    localrule: True
    conda:
        CONDA_ENV
    script:
        "../scripts/similarity_matrix_table.py"
