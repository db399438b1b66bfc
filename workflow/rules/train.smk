# Train: one job per configured run and seed. It writes the checkpoint of every saved
# epoch (initialisation, SGDR cycle ends, save_epochs, the last), of every step of
# save_iterations (mid-epoch: checkpoints/step000200.pt) and metrics.csv under
# runs/{run}/seed{k}/. Progress lives in runs/{run}/seed{k}/resume/, outside the declared
# outputs, so a killed job resumes. A distilled run reads the checkpoint of the same seed of
# its teacher: that teacher trains first.


rule download_cifar10:
    """CIFAR-10's official python archive, fetched and checked (needs internet)."""
    output:
        cifar10_files(),
    log:
        f"{LOGS}/download_cifar10.log",
    localrule: True
    conda:
        CONDA_ENV
    params:
        data_dir=lambda wildcards, output: Path(output[0]).parent,
    script:
        "../scripts/download.py"


for run in config["runs"]:

    rule:
        name:
            f"train_{run}"
        input:
            data=dataset_files(),
            teacher=teacher_checkpoint(run),
        output:
            checkpoints=[checkpoint(run, "{seed}", p) for p in saved_points(run)],
            metrics=metrics(run, "{seed}"),
        log:
            f"{LOGS}/train/{run}.seed{{seed}}.log",
        conda:
            CONDA_ENV
        params:
            settings=lambda wildcards, run=run: train_params(run, wildcards.seed),
            # the saved points, in the order of the checkpoints (epochs, then "stepN")
            epochs=saved_points(run),
            config_hash=lambda wildcards, run=run: study.config_hash(
                train_params(run, wildcards.seed)
            ),
            resume_dir=lambda wildcards, run=run: f"{run_dir(run, wildcards.seed)}/resume",
        script:
            "../scripts/train.py"
