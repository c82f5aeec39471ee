"""Scoring throughput of the reward ensemble from stored PNG files: the shape aspect aligned
with the product's reference (what the app uses) against the whole-ad shape model (the
baseline it replaced), measured in the same run on the same files.

The weights are untrained (speed does not depend on them); the ads come from the world
cache of bench/gate.py (built if missing). Last line: one JSON object.

    .venv/bin/python bench/scoring.py [--images 1500] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from rewards.ml.aspects import AspectSpec, default_registry  # noqa: E402
from rewards.ml.ensemble import Ensemble  # noqa: E402
from rewards.ml.model import AspectNet  # noqa: E402


def measure(name: str, paths: list[Path], refs: list[Path], warm: int) -> dict[str, float]:
    registry = default_registry()
    if name == "whole_ad_shape":
        registry.register(AspectSpec("shape", reference="rgba", ref_mode="stem"), replace=True)
    torch.manual_seed(0)
    models = {s.name: AspectNet(s.model_config()) for s in registry.models()}
    ensemble = Ensemble(models, registry, "cpu")
    # Warm-up: the first batches build each product's templates and torch's kernels.
    ensemble.score_files(paths[:warm], refs[:warm])
    t, c = time.perf_counter(), time.process_time()
    ensemble.score_files(paths[warm:], refs[warm:], batch_size=128, workers=2)
    n = len(paths) - warm
    return {
        "images_per_s": round(n / (time.perf_counter() - t), 1),
        "cpu_ms_per_image": round(1000 * (time.process_time() - c) / n, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=1500)
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    ap.add_argument("--cache-dir", type=Path, default=ROOT / "var" / "bench_gate")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from bench.gate import build_world  # bench/gate.py's cached world

    rows = build_world(max(args.images, 250), 0, args.cache_dir)[: args.images]
    folder = Path(rows[0]["folder"])
    paths = [folder / "images" / f"{r['key']}.png" for r in rows]
    refs = [folder / "refs" / f"{r['sku']}.png" for r in rows]
    warm = min(256, len(paths) // 4)
    results = {
        name: measure(name, paths, refs, warm) for name in ("aligned_shape", "whole_ad_shape")
    }
    print(f"\n{'ensemble':<16} {'images/s':>9} {'CPU ms/image':>13}")
    for name, r in results.items():
        print(f"{name:<16} {r['images_per_s']:>9} {r['cpu_ms_per_image']:>13}")
    ratio = results["aligned_shape"]["images_per_s"] / results["whole_ad_shape"]["images_per_s"]
    print(f"images: {len(paths) - warm} after {warm} warm-up; torch threads: {args.threads}")
    print(json.dumps({**results, "aligned_over_whole": round(ratio, 3)}))


if __name__ == "__main__":
    main()
