"""Sizes the plan knows before anything runs (closerlook.cost): a network's parameters,
buffers and per-image layer shapes from one forward pass of one image, and the bytes
of the files they make: an activation file is probe size × every registered layer's values
× the stored dtype's bytes (plus its probe header), a checkpoint the weights, buffers and
SGD momentum (docs/architecture.md, "the plan").
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from closerlook import plan


@dataclass(frozen=True)
class NetShapes:
    """What the plan needs of a network, from one forward pass of one image."""

    parameters: int
    buffers: int
    layers: dict[str, tuple[int, ...]]  # registered layer -> output shape of one image
    activations_per_image: int  # every leaf module's output values (what backward keeps)

    @property
    def layer_values(self) -> int:
        return sum(math.prod(s) for s in self.layers.values())


@functools.cache
def _shapes(spec_json: str, in_shape: tuple[int, int, int], num_classes: int) -> NetShapes:
    import torch

    from closerlook import models
    from closerlook.activations import capture
    from closerlook.usermodels import first_tensor

    net = unallocated(models.build, json.loads(spec_json), in_shape, num_classes)
    layers: dict[str, tuple[int, ...]] = {}
    leaves: list[int] = []
    hooks = [  # every leaf module's output, counted in capture's one forward pass
        m.register_forward_hook(lambda _m, _i, out: leaves.append(_values(first_tensor, out)))
        for m in net.modules()
        if not list(m.children())
    ]
    try:
        capture(
            net,
            torch.zeros(1, *in_shape),
            1,
            lambda name, _row, out: layers.__setitem__(name, tuple(out.shape[1:])),
        )
    finally:
        for h in hooks:
            h.remove()
    return NetShapes(
        sum(p.numel() for p in net.parameters()),
        sum(b.numel() for b in net.buffers()),
        layers,
        sum(leaves),
    )


def unallocated(build: Any, spec: Mapping[str, Any], in_shape: Any, num_classes: int) -> Any:
    """`build(spec, in_shape, num_classes)` without initialising its weights (on the meta
    device), then given uninitialised CPU memory: one image's forward pass on the CPU is
    faster than on the meta device, whose kernels take seconds to import. A user's network
    that cannot be built on the meta device is built on the CPU."""
    import torch

    try:
        with torch.device("meta"):
            net = build(spec, in_shape, num_classes)
    except (NotImplementedError, RuntimeError):
        return build(spec, in_shape, num_classes)
    return net.to_empty(device="cpu")


def _values(first_tensor: Any, output: Any) -> int:
    """Values of a module's output (its first tensor's); 0 for an output without tensors."""
    try:
        return first_tensor(output).numel()
    except TypeError:
        return 0


def network_shapes(
    spec: Mapping[str, Any], in_shape: Sequence[int], num_classes: int = 10
) -> NetShapes:
    """The shapes of the network `spec` builds on `in_shape` images (computed once)."""
    return _shapes(json.dumps(dict(spec), sort_keys=True), tuple(in_shape), num_classes)


def net_shapes(config: Mapping[str, Any], model: str) -> NetShapes:
    in_shape, classes = plan.DATASET_SHAPES[config["data"]["dataset"]]
    return network_shapes(config["models"][model], in_shape, classes)


def model_batches(
    configs: Sequence[Mapping[str, Any]],
) -> list[tuple[dict[str, Any], list[int], int]]:
    """(model spec, image shape, batch size) of every run and curve fit of the configs,
    each once: what to calibrate."""
    unique = {}
    for config in configs:
        in_shape = list(plan.DATASET_SHAPES[config["data"]["dataset"]][0])
        used = [
            (plan.run_settings(config, r).model, plan.run_settings(config, r).batch_size)
            for r in config["runs"]
        ]
        used += [
            (plan.curve_model(config, c), plan.curve_fit(config, c).batch_size)
            for c in config["curves"]["connections"]
        ]
        for model, batch in used:
            spec = config["models"][model]
            unique[(json.dumps(spec, sort_keys=True), str(in_shape), batch)] = (
                dict(spec),
                in_shape,
                batch,
            )
    return list(unique.values())


def checkpoint_bytes(shapes: NetShapes) -> int:
    """A checkpoint: weights and buffers, SGD's momentum per weight (float32), RNG states
    and metrics (about 20 kB) and the pickle's framing of each tensor (about 200 B)."""
    return 4 * (2 * shapes.parameters + shapes.buffers) + 20_000 + 200 * 3 * len(shapes.layers) * 4


def stored_itemsize(probe: Mapping[str, Any]) -> int:
    """Bytes of one stored activation value (`probe.dtype`)."""
    import numpy as np

    return np.dtype(probe["dtype"]).itemsize


def activation_bytes(shapes: NetShapes, probe: Mapping[str, Any]) -> int:
    """An activation file: probe size × registered layers' values × dtype bytes, and its
    probe header (indices and labels, int64)."""
    return probe["size"] * (shapes.layer_values * stored_itemsize(probe) + 16)
