# Figures: drawn from metrics.csv, the similarity tables and the curve files; cheap, run
# locally. The RQ figures (and findings.md) read what config `questions` names.


rule learning_curves:
    input:
        metrics=all_metrics(config["runs"]),
    output:
        figure_files("learning_curves"),
    log:
        f"{LOGS}/figures/learning_curves.log",
    localrule: True
    conda:
        CONDA_ENV
    params:
        runs=list(config["runs"]),
        seeds=SEEDS,
        colours=study.run_colours(config, config["runs"]),
        dpi=config["figures"]["dpi"],
    script:
        "../scripts/learning_curves.py"


rule similarity_figure:
    input:
        table=similarity_table("{analysis}"),
    output:
        figure_files("similarity_{analysis}"),
    log:
        f"{LOGS}/figures/similarity_{{analysis}}.log",
    wildcard_constraints:
        # configured names only: similarity_<analysis>_matrix is the next rule's
        analysis=analysis_pattern(),
    localrule: True
    conda:
        CONDA_ENV
    params:
        methods=study.figure_methods(config),
        dpi=config["figures"]["dpi"],
    script:
        "../scripts/similarity_figure.py"


rule similarity_matrix_figure:
    input:
        table=similarity_matrix_table("{analysis}"),
    output:
        figure_files("similarity_{analysis}_matrix"),
    log:
        f"{LOGS}/figures/similarity_{{analysis}}_matrix.log",
    wildcard_constraints:
        analysis=analysis_pattern(matrix_only=True),
    localrule: True
    conda:
        CONDA_ENV
    params:
        method=lambda wildcards: study.matrix_method(config, wildcards.analysis),
        dpi=config["figures"]["dpi"],
    script:
        "../scripts/similarity_matrix_figure.py"


rule rq1_training:
    input:
        unpack(study_inputs("rq1_training")),
    output:
        study_figure_files("rq1_training"),
    log:
        f"{LOGS}/figures/rq1_training.log",
    localrule: True
    conda:
        CONDA_ENV
    params:
        settings=study_params("rq1_training"),
    script:
        "../scripts/study_figure.py"


rule rq1_line_and_curve:
    input:
        unpack(study_inputs("rq1_line_and_curve")),
    output:
        study_figure_files("rq1_line_and_curve"),
    log:
        f"{LOGS}/figures/rq1_line_and_curve.log",
    localrule: True
    conda:
        CONDA_ENV
    params:
        settings=study_params("rq1_line_and_curve"),
    script:
        "../scripts/study_figure.py"


rule rq1_loss_plane:
    input:
        unpack(study_inputs("rq1_loss_plane")),
    output:
        study_figure_files("rq1_loss_plane"),
    log:
        f"{LOGS}/figures/rq1_loss_plane.log",
    localrule: True
    conda:
        CONDA_ENV
    params:
        settings=study_params("rq1_loss_plane"),
    script:
        "../scripts/study_figure.py"


rule rq1_restart_cca:
    input:
        unpack(study_inputs("rq1_restart_cca")),
    output:
        study_figure_files("rq1_restart_cca"),
    log:
        f"{LOGS}/figures/rq1_restart_cca.log",
    localrule: True
    conda:
        CONDA_ENV
    params:
        settings=study_params("rq1_restart_cca"),
    script:
        "../scripts/study_figure.py"


rule rq2_warmup:
    input:
        unpack(study_inputs("rq2_warmup")),
    output:
        study_figure_files("rq2_warmup"),
    log:
        f"{LOGS}/figures/rq2_warmup.log",
    localrule: True
    conda:
        CONDA_ENV
    params:
        settings=study_params("rq2_warmup"),
    script:
        "../scripts/study_figure.py"


rule rq2_warmup_cca:
    input:
        unpack(study_inputs("rq2_warmup_cca")),
    output:
        study_figure_files("rq2_warmup_cca"),
    log:
        f"{LOGS}/figures/rq2_warmup_cca.log",
    localrule: True
    conda:
        CONDA_ENV
    params:
        settings=study_params("rq2_warmup_cca"),
    script:
        "../scripts/study_figure.py"


rule rq3_distillation_cca:
    input:
        unpack(study_inputs("rq3_distillation_cca")),
    output:
        study_figure_files("rq3_distillation_cca"),
    log:
        f"{LOGS}/figures/rq3_distillation_cca.log",
    localrule: True
    conda:
        CONDA_ENV
    params:
        settings=study_params("rq3_distillation_cca"),
    script:
        "../scripts/study_figure.py"


rule rq4_summary:
    input:
        unpack(study_inputs("rq4_summary")),
    output:
        study_figure_files("rq4_summary"),
    log:
        f"{LOGS}/figures/rq4_summary.log",
    localrule: True
    conda:
        CONDA_ENV
    params:
        settings=study_params("rq4_summary"),
    script:
        "../scripts/study_figure.py"


rule findings:
    input:
        unpack(study_inputs("rq4_summary")),
    output:
        findings_file(),
    log:
        f"{LOGS}/findings.log",
    localrule: True
    conda:
        CONDA_ENV
    params:
        settings=findings_params(),
    script:
        "../scripts/findings.py"
