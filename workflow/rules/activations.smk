# Activation dumps: every registered layer of one checkpoint on the fixed probe set; the
# checkpoint of an epoch (epoch020) or of an optimizer step (step000200).


rule activations:
    input:
        checkpoint=checkpoint("{run}", "{seed}", "{point}"),
        code=model_code,
    output:
        activation("{run}", "{seed}", "{point}"),
    log:
        f"{LOGS}/activations/{{run}}.seed{{seed}}.{{point}}.log",
    conda:
        CONDA_ENV
    resources:
        **planned_resources("activations", runtime=60),
    params:
        settings=activation_settings(),
    script:
        "../scripts/activations.py"
