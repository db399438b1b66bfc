"""Networks a user brings: any classification model of torchvision.models
(``arch: torchvision``) or an ``nn.Module`` a function of the user's own file returns
(``arch: python``), with the layers the study looks at named by module path.

A :class:`PathNet` wraps the module (``net``, so its weights are ``net.<path>`` in a
checkpoint's state dict) and has the interface of the built-in networks
(closerlook.models.LayeredNet): ``layer_names()`` lists the configured module paths in
network order and ``layer(path)`` is the submodule at any path, so that activation capture
hooks the named layers, freezing turns off the parameters under a path, and curves
(``torch.func.functional_call``) and BatchNorm recomputation work on any module. A layer's
registered activation is its module's output (of a tuple or list output, the first tensor);
the network's logits are the model's output (likewise).
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from closerlook import usercode


class LayerPathError(ValueError):
    """A configured module path the network does not have; `key` is the config key under
    the model (``layers.2``), the message names the closest existing paths."""

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key


def first_tensor(output: Any) -> torch.Tensor:
    """A module's output as one tensor: itself, or the first tensor of a tuple or list."""
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)):
        for item in output:
            if isinstance(item, torch.Tensor):
                return item
    raise TypeError(f"a module returned {type(output).__name__}, not a tensor or a tuple of them")


class PathNet(nn.Module):
    """A network `net` whose registered layers are the module paths `layers`, in order."""

    def __init__(self, net: nn.Module, layers: Sequence[str]):
        super().__init__()
        self.net = net
        self.registered = list(layers)
        for i, path in enumerate(self.registered):
            check_path(net, path, f"layers.{i}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return first_tensor(self.net(x))

    def layer_names(self) -> list[str]:
        return list(self.registered)

    def layer(self, name: str) -> nn.Module:
        return self.net.get_submodule(name)


def module_paths(net: nn.Module) -> list[str]:
    """Every submodule's dotted path (``layer2.1.conv2``), in registration order."""
    return [name for name, _ in net.named_modules() if name]


def check_path(net: nn.Module, path: str, key: str) -> None:
    """Raise :class:`LayerPathError` unless `net` has a submodule at `path`."""
    try:
        net.get_submodule(path)
    except AttributeError:
        paths = module_paths(net)
        closest = difflib.get_close_matches(path, paths, n=4, cutoff=0.4) or paths[:4]
        raise LayerPathError(
            key, f"is {path!r}, not a module of the network; closest: {', '.join(closest)}"
        ) from None


def torchvision_module(name: str, kwargs: Mapping[str, Any], num_classes: int) -> nn.Module:
    """torchvision.models' classification model `name`, built with `kwargs` (num_classes
    defaults to the dataset's classes)."""
    import torchvision

    names = torchvision.models.list_models(module=torchvision.models)
    if name not in names:
        closest = difflib.get_close_matches(name, names, n=4) or names[:4]
        raise ValueError(
            f"torchvision has no classification model {name!r}; closest: {', '.join(closest)}"
        )
    return torchvision.models.get_model(name, **{"num_classes": num_classes, **kwargs})


def factory_module(
    ref: str,
    source: str | None,
    kwargs: Mapping[str, Any],
    in_shape: tuple[int, int, int],
    num_classes: int,
) -> nn.Module:
    """The module `ref` (``module:function``) returns when called with `kwargs`, plus
    `in_shape` and `num_classes` where the function takes parameters of those names."""
    function = usercode.load_function(ref, source)
    try:
        wants = inspect.signature(function).parameters
    except (TypeError, ValueError):
        wants = {}
    given = {"in_shape": tuple(in_shape), "num_classes": num_classes}
    extra = {k: v for k, v in given.items() if k in wants and k not in kwargs}
    try:
        net = function(**kwargs, **extra)
    except Exception as exc:  # the user's function may raise anything
        raise usercode.UserCodeError(f"{ref} raised {usercode.one_line(exc)}") from exc
    if not isinstance(net, nn.Module):
        raise usercode.UserCodeError(f"{ref} returned {type(net).__name__}, not a torch.nn.Module")
    return net


def build(spec: Mapping[str, Any], in_shape: tuple[int, int, int], num_classes: int) -> PathNet:
    """The network of an ``arch: torchvision`` or ``arch: python`` model spec."""
    kwargs = dict(spec.get("kwargs", {}))
    if spec["arch"] == "torchvision":
        net = torchvision_module(spec["name"], kwargs, num_classes)
    else:
        net = factory_module(spec["factory"], spec.get("source"), kwargs, in_shape, num_classes)
    model = PathNet(net, spec["layers"])
    for group in ("features", "classifier"):
        for i, path in enumerate(spec.get(group, [])):
            check_path(net, path, f"{group}.{i}")
    return model


def layer_groups(spec: Mapping[str, Any]) -> dict[str, list[str]]:
    """Freeze groups of a path model: ``features`` (default: every layer but the last),
    ``classifier`` (default: the last layer) and every layer by its path."""
    layers = list(spec["layers"])
    groups = {
        "features": list(spec.get("features", layers[:-1])),
        "classifier": list(spec.get("classifier", layers[-1:])),
    }
    groups.update({path: [path] for path in layers})
    return groups
