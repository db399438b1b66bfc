"""How fast one machine runs the study's kinds of work, measured by `closerlook calibrate`
and read by the plan (closerlook.cost): training and forward images/s of each configured
model at its batch sizes, disk write and read rates, each similarity measure's rate on its
cost formula (`similarity_ops`), a curve epoch's cost over a plain epoch, and a job's fixed
start-up time (docs/architecture.md, "the plan").

A calibration is a JSON file (nothing in it runs) saying which machine it describes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

KIND = "closerlook-calibration"
SHIPPED = Path(__file__).resolve().parents[2] / "workflow/calibrations"  # one per machine
# The calibration of the 2-core CPU this project is developed and tested on.
DEFAULT_CALIBRATION = SHIPPED / "cpu-2core.json"


class CalibrationError(ValueError):
    """A calibration file that cannot be read, or lacks a measurement the plan needs."""


def model_label(model: Mapping[str, Any]) -> str:
    """A model spec in a message: a user's network by its builder, a built-in one whole."""
    if model.get("arch") in ("torchvision", "python"):
        return f"{model['arch']} {model.get('name') or model.get('factory')}"
    return json.dumps(dict(model))


@dataclass
class Throughput:
    """One model at one batch size: training and inference images per second."""

    model: dict[str, Any]
    in_shape: list[int]
    batch_size: int
    measured_batch_size: int  # smaller where a full batch is too slow to time (CPU)
    train_images_per_s: float
    forward_images_per_s: float


@dataclass
class Calibration:
    """The throughputs of one machine (`device`: cpu or cuda; `machine`: what it is)."""

    device: str
    machine: str
    measured: str
    torch: str
    threads: int
    job_overhead_s: float  # a torch job's start (interpreter and imports)
    light_job_s: float  # a table or figure job's start
    write_bytes_per_s: float
    read_bytes_per_s: float
    curve_epoch_ratio: float
    host_base_bytes: int
    measure_ops_per_s: dict[str, float] = field(default_factory=dict)
    throughputs: list[Throughput] = field(default_factory=list)

    def measurements(self, model: Mapping[str, Any], in_shape: Sequence[int]) -> list[Throughput]:
        """Every measurement of `model` on `in_shape` images; an error naming it if none."""
        same = [
            t for t in self.throughputs if t.model == dict(model) and t.in_shape == list(in_shape)
        ]
        if not same:
            raise CalibrationError(
                f"the calibration has no measurement of model {model_label(model)} on "
                f"{'x'.join(map(str, in_shape))} images; run `closerlook calibrate CONFIG` "
                "with the config that names it"
            )
        return same

    def train_seconds(
        self, model: Mapping[str, Any], in_shape: Sequence[int], batch: int, images: int
    ) -> float:
        """Training `images` at `batch` (at the nearest measured batch size of the model)."""
        t = min(
            self.measurements(model, in_shape), key=lambda t: abs(math.log(t.batch_size / batch))
        )
        return images / t.train_images_per_s

    def forward_seconds(
        self, model: Mapping[str, Any], in_shape: Sequence[int], images: int
    ) -> float:
        """Inference on `images` at the model's best measured rate."""
        return images / max(t.forward_images_per_s for t in self.measurements(model, in_shape))

    def similarity_seconds(
        self, method: str, a: Sequence[int], b: Sequence[int], minibatch: int = 256
    ) -> float:
        if method not in self.measure_ops_per_s:
            raise CalibrationError(
                f"the calibration has no rate of measure {method!r}; calibrate again"
            )
        return similarity_ops(method, a, b, minibatch) / self.measure_ops_per_s[method]

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps({"kind": KIND, **asdict(self)}, indent=2) + "\n")


def load(path: str | Path) -> Calibration:
    """A calibration file (JSON), checked for every field."""
    try:
        raw = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise CalibrationError(f"{path}: not a readable calibration ({exc})") from None
    if not isinstance(raw, dict) or raw.pop("kind", None) != KIND:
        raise CalibrationError(f"{path}: not a closerlook calibration (run `closerlook calibrate`)")
    names = {f.name for f in fields(Calibration)}
    if set(raw) != names:
        raise CalibrationError(
            f"{path}: calibration fields differ from {sorted(names)}; calibrate again"
        )
    raw["throughputs"] = [Throughput(**t) for t in raw["throughputs"]]
    return Calibration(**raw)


# ----------------------------------------------------------------- similarity cost model
def similarity_ops(method: str, a: Sequence[int], b: Sequence[int], minibatch: int = 256) -> float:
    """The work of one measure on layers of shapes `a`, `b` ((N, D) or (N, C, H, W)):

    - svcca, pwcca: M = N·H·W datapoints of C features (see `reduced_cca_ops`);
    - cka: flattened examples, the cheaper of the N × N Grams and the D_a × D_b cross product;
    - dft_svcca, dft_cca: one CCA of N datapoints per spatial frequency (H·W of them; a
      dense layer has one) plus the FFTs;
    - cka_debiased: as cka; cka_minibatch: as cka on each minibatch of `minibatch` rows;
    - procrustes: each side wider than N reduced to N columns by its thin SVD (N²·D), then
      the cross product and the SVD of the r_a × r_b matrix (r = min(N, D)).
    """
    n = a[0]
    c = a[1] + b[1]
    hw = max(math.prod(a[2:]), math.prod(b[2:]), 1)
    if method in ("svcca", "pwcca"):
        return reduced_cca_ops(n * hw, a[1], b[1])
    da, db = math.prod(a[1:]), math.prod(b[1:])
    if method in ("cka", "cka_debiased"):
        return gram_ops(n, da, db)
    if method == "cka_minibatch":
        return math.ceil(n / minibatch) * gram_ops(min(n, minibatch), da, db)
    if method == "procrustes":
        ra, rb = min(n, da), min(n, db)
        reduction = sum(n * n * d for d in (da, db) if d > n)
        return reduction + n * ra * rb + ra * rb * min(ra, rb)
    if method in ("dft_svcca", "dft_cca"):
        fft = n * c * hw * max(1.0, math.log2(hw))
        return hw * reduced_cca_ops(n, a[1], b[1]) + fft
    raise CalibrationError(f"no cost model of measure {method!r}")


def gram_ops(n: int, da: int, db: int) -> float:
    """CKA's products of n examples of da and db features: the cheaper of the n × n Grams
    and the da × db cross product."""
    return min(n * n * (da + db), n * da * db) + n * (da + db)


def reduced_cca_ops(m: int, ca: int, cb: int) -> float:
    """One CCA of m datapoints of ca and cb features: covariances m·k² and factorisations
    k³ of the k directions both sides keep, each at most m (a side with more features than
    datapoints is first reduced to them, at m²·C)."""
    kept = min(ca, m) + min(cb, m)
    reduction = m * m * sum(c for c in (ca, cb) if c > m)
    return m * kept * kept + kept**3 + reduction
