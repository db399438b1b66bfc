# Figures: drawn from metrics.csv, the similarity tables and the curve files; cheap, run
# locally. The study's figures are closerlook.study_figures' registry: one rule each, in
# its order; they (and findings.md) read what config `questions` names.


rule learning_curves:
    input:
        metrics=all_metrics(config["runs"]),
    output:
        reported_figure("learning_curves", "learning_curves.rst", "Runs"),
    log:
        f"{LOGS}/figures/learning_curves.log",
    localrule: True
    conda:
        CONDA_ENV
    params:
        settings=learning_curves_settings(),
    script:
        "../scripts/learning_curves.py"


rule similarity_figure:
    input:
        table=similarity_table("{analysis}"),
    output:
        reported_figure(
            "similarity_{analysis}", "similarity.rst", "Analyses", "{analysis}"
        ),
    log:
        f"{LOGS}/figures/similarity_{{analysis}}.log",
    wildcard_constraints:
        # configured names only: similarity_<analysis>_matrix is the next rule's
        analysis=analysis_pattern(),
    localrule: True
    conda:
        CONDA_ENV
    params:
        settings=lambda wildcards: similarity_figure_settings(wildcards.analysis),
    script:
        "../scripts/similarity_figure.py"


rule similarity_matrix_figure:
    input:
        table=similarity_matrix_table("{analysis}"),
    output:
        reported_figure(
            "similarity_{analysis}_matrix",
            "similarity_matrix.rst",
            "Analyses",
            "{analysis}",
        ),
    log:
        f"{LOGS}/figures/similarity_{{analysis}}_matrix.log",
    wildcard_constraints:
        analysis=analysis_pattern(matrix_only=True),
    localrule: True
    conda:
        CONDA_ENV
    params:
        settings=lambda wildcards: matrix_figure_settings(wildcards.analysis),
    script:
        "../scripts/similarity_matrix_figure.py"


for name in study_figures.FIGURES:

    rule:
        name:
            name
        input:
            unpack(study_inputs(name)),
        output:
            study_figure_files(name),
        log:
            f"{LOGS}/figures/{name}.log",
        localrule: True
        conda:
            CONDA_ENV
        params:
            settings=study_figures.settings(config, name),
        script:
            "../scripts/study_figure.py"


rule findings:
    input:
        # what the summary reads (its parts are every figure's)
        unpack(study_inputs(study_figures.SUMMARY)),
    output:
        md=report(
            findings_file(),
            caption=f"{FIGURE_CAPTIONS}/findings.rst",
            category="Findings",
        ),
        json=findings_json(),
        html=report(
            findings_html(),
            caption=f"{FIGURE_CAPTIONS}/findings.rst",
            category="Findings",
        ),
    log:
        f"{LOGS}/findings.log",
    localrule: True
    conda:
        CONDA_ENV
    params:
        settings=study_figures.findings_settings(config),
    script:
        "../scripts/findings.py"
