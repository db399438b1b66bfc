"""Config of the training heuristics: new keys, cross-references, presets, the teacher edge."""

import copy

import pytest
import yaml

from closerlook import config as study

from support import REPO, run_snakemake

RQ_RUNS = {
    "sgdr",
    "step",
    "cosine",
    "large_batch",
    "large_batch_warmup",
    "large_batch_frozen",
    "small_batch",
    "teacher",
    "student_distill",
    "student_plain",
}


def error(cfg) -> str:
    with pytest.raises(study.ConfigError) as info:
        study.validate(cfg)
    return str(info.value)


def distilled(cfg, student, teacher, **teacher_keys):
    cfg["runs"][student]["distill"] = {"teacher": {"run": teacher, **teacher_keys}}
    return cfg


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda c: c["runs"]["large_batch_frozen"]["freeze"].update(layers=["head"]),
            "'runs.large_batch_frozen.freeze.layers.0' is 'head', not a layer group of model "
            "'vgg_small'; allowed values: features, classifier, conv1",
        ),
        (
            lambda c: c["runs"]["large_batch_frozen"]["freeze"].update(epochs=0),
            "'runs.large_batch_frozen.freeze.epochs'",
        ),
        (
            lambda c: c["runs"]["student_distill"]["distill"]["teacher"].update(run="nobody"),
            "'runs.student_distill.distill.teacher.run' is 'nobody'; allowed values: sgdr",
        ),
        (
            lambda c: c["runs"]["student_distill"]["distill"]["teacher"].update(epoch=7),
            "'runs.student_distill.distill.teacher.epoch' is 7, which run 'teacher' does not "
            "save; saved epochs: 0, 30",
        ),
        (
            lambda c: distilled(c, "student_distill", "student_distill"),
            "'runs.student_distill.distill.teacher.run' is 'student_distill', which makes a "
            "cycle of teachers: student_distill -> student_distill",
        ),
        (
            lambda c: distilled(c, "teacher", "student_distill"),
            "cycle of teachers: teacher -> student_distill -> teacher",
        ),
        (
            lambda c: c["runs"]["student_distill"]["distill"].update(alpha=1.5),
            "'runs.student_distill.distill.alpha'",
        ),
        (
            lambda c: c["runs"]["student_distill"]["distill"].update(temperature=0),
            "'runs.student_distill.distill.temperature'",
        ),
        (
            lambda c: c["runs"]["student_distill"]["distill"].update(T=4),
            "unknown key 'runs.student_distill.distill.T'",
        ),
        (lambda c: c["runs"]["sgdr"].update(warmup_epochs=-1), "'runs.sgdr.warmup_epochs'"),
        (lambda c: c["runs"]["sgdr"].update(accumulation=0), "'runs.sgdr.accumulation'"),
        (lambda c: c["runs"]["sgdr"].update(amp="yes"), "'runs.sgdr.amp'"),
        (
            lambda c: c["models"]["vgg_small"].update(arch="resnet18"),
            "'models.vgg_small.conv' does not apply to arch 'resnet18'",
        ),
        (
            lambda c: c["models"].update(r={"arch": "resnet50"}),
            "'models.r.arch' is 'resnet50'; allowed values: 'vgg', 'vgg11', 'vgg16', 'resnet18'",
        ),
        (
            lambda c: c["models"].update(v={"arch": "vgg16", "width": 8}),
            "'models.v.width' does not apply to arch 'vgg16'",
        ),
    ],
)
def test_bad_training_values_name_the_key(embedded_config, edit, expected):
    cfg = copy.deepcopy(embedded_config)
    edit(cfg)
    assert expected in error(cfg)


def test_defaults_of_the_new_keys(embedded_config):
    cfg = study.validate(embedded_config)
    run = study.run_config(cfg, "sgdr")
    assert (run["warmup_epochs"], run["accumulation"], run["amp"], run["channels_last"]) == (
        0,
        1,
        True,
        True,
    )
    assert study.run_config(cfg, "student_distill")["distill"] == {
        "teacher": {"run": "teacher"},
        "temperature": 4,
        "alpha": 0.9,
    }
    assert study.teacher(cfg, "student_distill") == ("teacher", 30)
    assert study.teacher(cfg, "student_plain") is None


def test_both_presets_have_every_run_of_the_study(repo, embedded_config):
    paper = study.load(repo / "workflow/configs/paper.yaml")
    embedded = study.validate(embedded_config)
    assert set(paper["runs"]) == set(embedded["runs"]) == RQ_RUNS


def test_paper_preset_settings(repo):
    cfg = study.load(repo / "workflow/configs/paper.yaml")
    sgdr = study.run_config(cfg, "sgdr")
    assert study.cycle_ends(sgdr) == [10, 30, 70, 150]
    assert (sgdr["epochs"], sgdr["batch_size"], sgdr["momentum"], sgdr["weight_decay"]) == (
        200,
        100,
        0.9,
        5e-4,
    )
    assert sgdr["schedule"]["lr_max"] == 0.05 and sgdr["schedule"]["lr_min"] == 1e-6
    assert study.run_config(cfg, "step")["schedule"]["milestones"] == [60, 120, 150]
    warm = study.run_config(cfg, "large_batch_warmup")
    assert (warm["batch_size"], warm["schedule"]["lr"], warm["warmup_epochs"]) == (5000, 2.5, 20)
    # 20 epochs of 50,000 / 5000 = 10 iterations: 200 warmup iterations
    assert warm["warmup_epochs"] * 50_000 // warm["batch_size"] == 200
    assert study.run_config(cfg, "large_batch")["warmup_epochs"] == 0
    frozen = study.run_config(cfg, "large_batch_frozen")
    assert frozen["freeze"] == {"layers": ["classifier"], "epochs": 20}
    assert study.run_config(cfg, "small_batch")["batch_size"] == 100
    assert cfg["models"]["vgg16"]["arch"] == "vgg16" and cfg["data"]["dataset"] == "cifar10"


def dry_run(workdir, env, target: str, configfile) -> str:
    """The plan (stdout) of `snakemake -n target` with `configfile`; it must succeed."""
    env = {**env, "PYTHONPATH": str(REPO / "src")}
    done = run_snakemake(workdir, env, "-n", target, configfile=configfile)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_the_teacher_is_a_dag_dependency_of_its_student(repo, tmp_path, snakemake_env):
    out = dry_run(
        tmp_path,
        snakemake_env,
        "results/embedded/runs/student_distill/seed0/metrics.csv",
        repo / "config.yaml",
    )
    jobs = {line.split()[0] for line in out.splitlines() if line.startswith("train_")}
    assert jobs == {"train_teacher", "train_student_distill"}


def test_cifar10_training_reads_the_data_and_can_download_it(repo, tmp_path, snakemake_env):
    cfg = yaml.safe_load((repo / "workflow/configs/paper.yaml").read_text())
    cfg["data"]["data_dir"] = "cifar"
    (tmp_path / "paper.yaml").write_text(yaml.safe_dump(cfg))
    out = dry_run(
        tmp_path,
        snakemake_env,
        "results/paper/runs/sgdr/seed0/metrics.csv",
        tmp_path / "paper.yaml",
    )
    assert "download_cifar10" in out and "cifar/data_batch_1" in out
