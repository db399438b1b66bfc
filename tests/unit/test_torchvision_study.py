"""torchvision's ResNet-18 by name (`arch: torchvision`) through the study's library on the
CIFAR-shaped archive (closerlook.synthetic): trained for two epochs, `layer1`-`layer4` and
`fc` dumped, compared under every measure, and a curve fitted and evaluated between its
initialisation and its last epoch (BatchNorm recomputed on the way)."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import torchvision

from closerlook import activations, checkpoints, compare, curve_eval, curve_fit, data, train
from closerlook.curves import load_curve
from closerlook.plan import CurveEval, CurveFit, RunSettings
from closerlook.synthetic import write_archive

from support import run_settings

TV = {
    "arch": "torchvision",
    "name": "resnet18",
    "layers": ["layer1", "layer2", "layer3", "layer4", "fc"],
}
METHODS = ["svcca", "pwcca", "cka", "dft_svcca", "dft_cca"]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tv")
    root = write_archive(tmp / "cifar", train=40, val=20)
    data_config = {"dataset": "cifar10", "data_dir": str(root)}
    dataset = data.load(data_config)
    run = RunSettings(**run_settings(model="tv", epochs=2, batch_size=10, augment=False))
    ckpts = {0: tmp / "epoch000.pt", 2: tmp / "epoch002.pt"}
    train.train_run(run, TV, dataset, ckpts, tmp / "metrics.csv", tmp / "resume", device="cpu")
    probe = {"split": "train", "size": 20, "seed": 0, "batch_size": 10, "dtype": "float32",
             "compression": "none", "compression_level": 1}  # fmt: skip
    dumps = {
        e: activations.dump_checkpoint(p, tmp / f"e{e}.h5", data_config, probe, e, "cpu")
        for e, p in ckpts.items()
    }
    return tmp, dataset, ckpts, dumps


def test_the_checkpoint_records_the_spec_and_holds_torchvisions_weights(study):
    _, _, ckpts, _ = study
    ckpt = checkpoints.load_checkpoint(ckpts[2])
    assert ckpt["model_spec"] == TV
    reference = torchvision.models.resnet18(num_classes=10).state_dict()
    assert {k.removeprefix("net."): tuple(v.shape) for k, v in ckpt["model"].items()} == {
        k: tuple(v.shape) for k, v in reference.items()
    }


def test_the_named_layers_are_dumped(study):
    _, _, _, dumps = study
    with h5py.File(dumps[2]) as f:
        shapes = {name: f["layers"][name].shape for name in TV["layers"]}
    assert shapes == {
        "layer1": (20, 64, 8, 8),
        "layer2": (20, 128, 4, 4),
        "layer3": (20, 256, 2, 2),
        "layer4": (20, 512, 1, 1),
        "fc": (20, 10),
    }


def test_every_measure_compares_the_named_layers(study):
    _, _, _, dumps = study
    table = compare.compare_files(dumps[0], dumps[2], "tv", METHODS, device="cpu")
    assert list(dict.fromkeys(table["layer"])) == TV["layers"]
    assert set(table["method"]) == set(METHODS)
    values = table["value"].to_numpy(float)
    assert np.isfinite(values).all() and (values >= -1e-6).all() and (values <= 1 + 1e-6).all()
    same = compare.compare_files(dumps[2], dumps[2], "tv", ["cka", "svcca"], device="cpu")
    assert np.allclose(same["value"], 1.0, atol=1e-6)


def test_a_curve_is_fitted_and_evaluated_with_batchnorm_recomputed(study):
    tmp, dataset, ckpts, _ = study
    fit = CurveFit(epochs=1, lr=0.01, batch_size=10, n_bends=3)
    curve_fit.fit_between(ckpts[0], ckpts[2], tmp / "bends.pt", dataset, fit, {}, device="cpu")
    curve, obj = load_curve(tmp / "bends.pt")
    assert obj["model_spec"] == TV and curve.n_bends == 3
    ev = curve_eval.evaluate_curve(
        curve, dataset, CurveEval(points=3, bn_images=20, grid=2), {}, ("tv", 0, "tv", 2)
    )
    line, along = ev.paths["line"], ev.paths["curve"]
    # both paths end at the trained network (its BatchNorm re-estimated on the same images)
    assert np.isfinite(line["train_loss"]).all() and np.isfinite(along["train_loss"]).all()
    assert line["train_loss"][-1] == pytest.approx(along["train_loss"][-1], rel=1e-5)
    assert line["train_loss"][0] == pytest.approx(along["train_loss"][0], rel=1e-5)
    assert ev.plane["train_loss"].shape == (2, 2)


def test_inspect_counts_parameters_per_top_level_module(study):
    from closerlook.torch_inspection import describe_torch

    _, _, ckpts, _ = study
    layers = {d["name"]: d["parameters"] for d in describe_torch(ckpts[2])["layers"]}
    net = torchvision.models.resnet18(num_classes=10)
    expected = {
        name: sum(p.numel() for p in module.parameters())
        for name, module in net.named_children()
        if any(True for _ in module.parameters())
    }
    assert layers == expected  # conv1, bn1, layer1 ... layer4, fc
