# Mode connectivity: fit a curve between two checkpoints of the same seed (its bends are a
# checkpoint of their own), then evaluate line, curve and loss plane into one HDF5 file
# per curve and seed.
# Evaluation settings (points, BN subset, plane grid) rerun only the evaluation.


rule curve_fit:
    input:
        unpack(curve_endpoint_checkpoints),
        code=curve_model_code,
    output:
        curve_bends("{curve}", "{seed}"),
    log:
        f"{LOGS}/curves/{{curve}}.seed{{seed}}.fit.log",
    conda:
        CONDA_ENV
    resources:
        **planned_resources("curve_fit"),
    params:
        settings=curve_fit_settings,
    script:
        "../scripts/curve_fit.py"


rule curve_evaluate:
    input:
        bends=curve_bends("{curve}", "{seed}"),
        projected=curve_projection_checkpoints,
        code=curve_model_code,
    output:
        curve_file("{curve}", "{seed}"),
    log:
        f"{LOGS}/curves/{{curve}}.seed{{seed}}.evaluate.log",
    conda:
        CONDA_ENV
    resources:
        **planned_resources("curve_evaluate", runtime=360),
    params:
        settings=curve_eval_settings,
    script:
        "../scripts/curve_evaluate.py"


rule curves:
    """Every configured curve (also built by the `figures` target)."""
    input:
        all_curves(),
