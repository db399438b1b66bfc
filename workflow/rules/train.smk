# Train: one job per configured run. It writes the checkpoint of every saved epoch
# (initialisation, SGDR cycle ends, save_epochs, the last) and metrics.csv. Progress
# lives in runs/{run}/resume/, outside the declared outputs, so a killed job resumes.
# A distilled run reads its teacher's checkpoint: the teacher trains first.


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
            checkpoints=[checkpoint(run, e) for e in saved_epochs(run)],
            metrics=metrics(run),
        log:
            f"{LOGS}/train/{run}.log",
        conda:
            CONDA_ENV
        params:
            settings=train_params(run),
            epochs=saved_epochs(run),
            config_hash=study.config_hash(train_params(run)),
            resume_dir=f"{RESULTS}/runs/{run}/resume",
        script:
            "../scripts/train.py"
