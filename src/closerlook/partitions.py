"""Which layers are "shallow" and which "deeper": the depth partitions of the findings.

A depth claim contrasts a similarity (or a gain in it) between a network's shallow and its
deeper layers. How the layers are split decides such a verdict as much as the numbers do,
so every partition is named, printed beside its verdict, and checked by sensitivity rows
(docs/architecture.md, findings):

- the **output layer** (the logits) is never counted as "deeper" unless the config says so:
  two accurate classifiers' logits on their own training images are forced to agree, and a
  distillation loss fits the teacher's logits directly, so the logits alone can decide any
  "deeper layers are more alike" contrast;
- (d), shallow against deeper layers across networks: the *feature* layers (those before the
  classifier: the conv layers of a VGG, the stem and residual blocks of a ResNet) in halves;
- (c), where distillation's gain lands: every layer but the output layer in halves, with the
  output layer reported on its own;
- (b), which layers warmup protects: the group the paper froze (the classifier) against the
  rest; where that group is the output layer alone (ResNet-18), the last stage joins it.

Halves: the first ⌊L/2⌋ layers in network order are shallow and the last ⌊L/2⌋ deeper (the
middle layer of an odd count is in neither).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

PRIMARY = "primary"
OUTPUT = "output layer"  # the sensitivity row that counts the output layer the other way
OTHER = "the other partition"


@dataclass(frozen=True)
class Partition:
    """Shallow and deeper layers of a depth contrast, by registered layer name."""

    label: str
    shallow: tuple[str, ...]
    deeper: tuple[str, ...]

    def means(self, layers: Sequence[str], values: Sequence[float]) -> tuple[float, float]:
        """(mean over the shallow layers, mean over the deeper layers) of per-layer `values`
        (NaN where a side has no layer of `layers`)."""
        v = dict(zip(layers, np.asarray(values, dtype=float), strict=True))
        sh = [v[n] for n in self.shallow if n in v]
        dp = [v[n] for n in self.deeper if n in v]
        if not sh or not dp:
            return math.nan, math.nan
        return float(np.mean(sh)), float(np.mean(dp))

    def text(self) -> str:
        """ "shallow conv1, conv2; deeper conv3, conv4"."""
        return f"shallow {', '.join(self.shallow)}; deeper {', '.join(self.deeper)}"

    def as_dict(self) -> dict[str, Any]:
        return {"label": self.label, "shallow": list(self.shallow), "deeper": list(self.deeper)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Partition:
        return cls(str(d["label"]), tuple(d["shallow"]), tuple(d["deeper"]))


def halves(layers: Sequence[str], label: str) -> Partition:
    """The first ⌊L/2⌋ layers shallow, the last ⌊L/2⌋ deeper."""
    half = len(layers) // 2
    return Partition(label, tuple(layers[:half]), tuple(layers[len(layers) - half :]))


def split(layers: Sequence[str], deeper: Sequence[str], label: str) -> Partition:
    """`deeper` (in the order of `layers`) against every other layer."""
    deep = [n for n in layers if n in set(deeper)]
    return Partition(label, tuple(n for n in layers if n not in set(deeper)), tuple(deep))


@dataclass(frozen=True)
class Network:
    """What a partition needs of a model: its registered layers in order, its feature
    layers, its classifier group (the layers the paper froze) and its output layer."""

    layers: tuple[str, ...]
    features: tuple[str, ...]
    classifier: tuple[str, ...]
    output: str
    last_stage: tuple[str, ...] = ()


def across_networks(net: Network, include_output: bool = False) -> dict[str, Partition]:
    """(d): the feature layers in halves; sensitivity: every layer in halves (the output
    layer included), and every layer but the output layer in halves."""
    hidden = [n for n in net.layers if n != net.output]
    primary = (
        halves(net.layers, "every layer in halves")
        if include_output
        else halves(net.features, "the feature layers in halves")
    )
    return {
        PRIMARY: primary,
        OUTPUT: halves(net.layers, "every layer in halves, the output layer included"),
        OTHER: halves(hidden, "every layer but the output layer in halves"),
    }


def distillation(net: Network, include_output: bool = False) -> dict[str, Partition]:
    """(c): every layer but the output layer in halves; sensitivity: every layer in halves,
    and the feature layers in halves."""
    hidden = [n for n in net.layers if n != net.output]
    primary = (
        halves(net.layers, "every layer in halves")
        if include_output
        else halves(hidden, "every layer but the output layer in halves")
    )
    return {
        PRIMARY: primary,
        OUTPUT: halves(net.layers, "every layer in halves, the output layer included"),
        OTHER: halves(net.features, "the feature layers in halves"),
    }


def warmup(net: Network, deeper: Sequence[str] | None) -> dict[str, Partition]:
    """(b): `deeper` (default the classifier group, the layers the paper froze) against the
    rest; where that is the output layer alone, the last stage joins it. Sensitivity: the
    output layer counted the other way (where that leaves a contrast), and every layer but
    the output layer in halves."""
    group = list(deeper) if deeper is not None else list(net.classifier)
    label = "the frozen group (" + ", ".join(group) + ")"
    if group == [net.output] and net.last_stage:
        group = [*net.last_stage, net.output]
        label = "the frozen output layer and the last stage (" + ", ".join(group) + ")"
    hidden = [n for n in net.layers if n != net.output]
    out = {PRIMARY: split(net.layers, group, label)}
    without = [n for n in group if n != net.output]
    if net.output not in group:
        out[OUTPUT] = split(net.layers, [*group, net.output], "the same with the output layer")
    elif without:
        out[OUTPUT] = split(hidden, without, "the same without the output layer")
    out[OTHER] = halves(hidden, "every layer but the output layer in halves")
    return out


def partition_of(
    questions: Mapping[str, Any], question: str, layers: Sequence[str], variant: str = PRIMARY
) -> Partition:
    """The partition `variant` of `question` (rq2, rq3 or rq4) from the resolved questions
    (closerlook.resolved.resolved_questions); without them, every layer but the last (taken as
    the output layer) in halves."""
    resolved = questions.get("partitions", {}).get(question)
    if resolved and variant in resolved:
        return Partition.from_dict(resolved[variant])
    if variant == OUTPUT:
        return halves(list(layers), "every layer in halves, the output layer included")
    return halves(list(layers)[:-1], "every layer but the last in halves")


# ------------------------------------------------------------------ from the config
def network(spec: Mapping[str, Any]) -> Network:
    """The Network of a config's model mapping (closerlook.models' layers and groups)."""
    from closerlook.models import last_stage, layer_groups, layer_names

    layers, groups = layer_names(spec), layer_groups(spec)
    return Network(
        tuple(layers),
        tuple(groups["features"]),
        tuple(groups["classifier"]),
        layers[-1],
        tuple(last_stage(spec)),
    )


def resolve(config: Mapping[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """question -> variant -> partition (as a dict) of every depth question the config
    answers: rq2 on the no-warmup run's model, rq3 on the plain student's, rq4 on the
    independent networks' (else the heuristics')."""
    from closerlook.plan import analysis, run_settings
    from closerlook.resolved import deeper_layers

    q, runs = config["questions"], config["runs"]
    include = bool(config["findings"].get("include_output", False))

    def net(run: str | None) -> Network | None:
        if run is None or run not in runs:
            return None
        return network(config["models"][run_settings(config, run).model])

    def run_of(name: str | None) -> str | None:
        if not name or name not in config["similarity"]["analyses"]:
            return None
        a = analysis(config, name)
        return a.get("run") or (a.get("runs") or [None])[0]

    out: dict[str, dict[str, Partition]] = {}
    rq2 = q.get("rq2", {})
    n2 = net(rq2.get("no_warmup", {}).get("run"))
    if n2 is not None:
        deeper = deeper_layers(config)
        out["rq2"] = warmup(n2, deeper)
    n3 = net(q.get("rq3", {}).get("plain"))
    if n3 is not None:
        out["rq3"] = distillation(n3, include)
    rq4 = q.get("rq4", {})
    n4 = net(run_of(rq4.get("independent")) or run_of(rq4.get("heuristics")))
    if n4 is not None:
        out["rq4"] = across_networks(n4, include)
    return {k: {v: p.as_dict() for v, p in parts.items()} for k, parts in out.items()}
