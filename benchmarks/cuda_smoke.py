"""End-to-end smoke check of the CUDA path: train, dump activations, SVCCA, on digits.

Prints one JSON line with the device, the final validation accuracy and the timings.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from closerlook import activations, checkpoints, compare, config, data, plan, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    cfg = config.load(Path(__file__).resolve().parents[1] / "config.yaml")
    run = plan.run_settings(cfg, "sgdr")
    run.epochs = 6 if args.quick else run.epochs
    epochs = plan.checkpoint_epochs(run)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ckpts = {e: tmp / f"epoch{e:03d}.pt" for e in epochs}
        t0 = time.perf_counter()
        state = train.train_run(
            run,
            cfg["models"][run.model],
            data.load(cfg["data"]),
            ckpts,
            tmp / "metrics.csv",
            tmp / "resume",
            device=args.device,
        )
        t_train = time.perf_counter() - t0
        t0 = time.perf_counter()
        for e in epochs[-2:]:
            activations.dump_checkpoint(
                ckpts[e], tmp / f"a{e}.h5", cfg["data"], cfg["probe"], e, device=args.device
            )
        t_dump = time.perf_counter() - t0
        table = compare.compare_files(
            tmp / f"a{epochs[-2]}.h5", tmp / f"a{epochs[-1]}.h5", "smoke", ["svcca"]
        )
        device = checkpoints.load_checkpoint(ckpts[epochs[-1]])["provenance"]["device"]
    print(
        json.dumps(
            {
                "benchmark": "cuda_smoke",
                "device": device,
                "val_acc": state.metrics[-1]["val_acc"],
                "train_s": round(t_train, 2),
                "dump_s": round(t_dump, 2),
                "svcca_min": float(table["value"].min()),
                "ok": state.metrics[-1]["val_acc"] > 0.8,
            }
        )
    )


if __name__ == "__main__":
    main()
