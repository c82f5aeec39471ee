"""The `full` paths' ML, timed on one device; bench/gpu_check.sh runs it once per device and
prints the figures side by side (``--table``).

    [BENCH_THREADS=N] .venv/bin/python bench/_gpu_check.py --models DIR [--device cuda|cpu]
    .venv/bin/python bench/_gpu_check.py --table RESULTS.jsonl

DIR holds the tiny checkpoints of ``python -m tests.tiny_pipelines DIR``. Measured: the
inpainting pipeline (loaded by the app's loader: float16 on CUDA) painting ads at its native
64 pixels and at 256, with the product's pixels checked exactly; the Qwen2 causal LM
(loaded by the query-expansion loader) fine-tuning and expanding queries; the tiny ad
generator's training step. BENCH_THREADS sets torch's CPU threads (default: torch's own).
Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from workers.ml import runtime  # noqa: E402


def timed(fn: Callable[[], Any], device: torch.device) -> tuple[float, Any]:
    """Seconds `fn` took, waiting for the GPU's queued work (CUDA calls return early)."""
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    out = fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start, out


def inpainting(folder: Path, device: torch.device) -> dict[str, Any]:
    from dataclasses import replace

    from PIL import Image

    from workers.imagegen.ml.config import full_config
    from workers.imagegen.ml.full import config_for, generate_ads_full, load_full_pipeline
    from workers.imagegen.ml.layout import place_product

    load_s, pipe = timed(lambda: load_full_pipeline(full_config(str(folder)), device), device)
    cfg = config_for(pipe, full_config(str(folder)))
    cut = Image.new("RGBA", (48, 64), (0, 0, 0, 0))
    cut.paste((210, 30, 40, 255), (4, 4, 44, 60))
    out: dict[str, Any] = {"inpaint_load_s": round(load_s, 3), "inpaint_native": cfg.resolution}
    generate_ads_full(pipe, cfg, ["warm-up"], [cut], [0], steps=2)
    for size, n in ((cfg.resolution, 8), (2 * cfg.resolution, 4)):
        at = replace(cfg, resolution=size)
        secs, ads = timed(
            lambda at=at, n=n: generate_ads_full(pipe, at, ["red box"] * n, [cut] * n, range(n)),
            device,
        )
        out[f"inpaint_ads_per_s_{size}px"] = round(n / secs, 2)
        for ad in ads:
            rgb, alpha = place_product(cut, ad.layout, ad.image.width)
            img = np.asarray(ad.image)
            exact = bool(np.array_equal(img[alpha == 255], rgb[alpha == 255]))
            out["product_exact"] = out.get("product_exact", True) and exact
            # float16 on an untrained VAE can overflow to NaN, which decodes to black.
            out["background_std_min"] = round(
                min(out.get("background_std_min", 1e9), float(img[alpha == 0].std())), 2
            )
    out["inpaint_steps"] = cfg.sample_steps
    return out


def causal_lm(folder: Path, device: torch.device) -> dict[str, Any]:
    from workers.qe.ml.model import generate, load
    from workers.qe.ml.train import SFTConfig, finetune

    load_s, (model, tok) = timed(lambda: load(folder), device)
    model.to(device)
    pairs = [
        ("running shoes", "sneakers | trainers"),
        ("red mug", "coffee cup | tea mug"),
        ("kids backpack", "school bag | rucksack"),
        ("wireless earbuds", "bluetooth headphones | in-ear"),
    ]
    steps = 20
    cfg = SFTConfig(steps=steps, batch_size=16, seed=0, log_every=steps)
    finetune(model, tok, pairs, SFTConfig(steps=2, batch_size=16, seed=0, log_every=2))  # warm-up
    sft_s, result = timed(lambda: finetune(model, tok, pairs, cfg), device)
    queries = [f"{q} {i}" for i in range(16) for q, _ in pairs]  # 64 queries
    gen_s, _ = timed(lambda: generate(model.eval(), tok, queries, 16), device)
    return {
        "lm_load_s": round(load_s, 3),
        "lm_params": model.num_parameters(),
        "lm_dtype": str(model.dtype).removeprefix("torch."),
        "lm_sft_steps_per_s": round(steps / sft_s, 2),
        "lm_sft_loss_last": round(result.metrics["loss_last"], 3),
        "lm_expand_queries_per_s": round(len(queries) / gen_s, 1),
    }


def tiny_generator(device: torch.device) -> dict[str, Any]:
    from workers.imagegen.ml import AdImageGenerator, tiny_config
    from workers.imagegen.ml.train import GenData, TrainConfig, train_generator

    torch.manual_seed(0)
    cfg = tiny_config(num_layers=6)
    model = AdImageGenerator(cfg).to(device)
    r, n = cfg.resolution, 64
    images = torch.rand(n, 3, r, r)
    masks = (torch.rand(n, 1, r, r) > 0.5).float()
    data = GenData.from_images(images, masks, torch.randn(n, cfg.text_dim), r)
    train_generator(model, data, TrainConfig(steps=2, batch_size=16, warmup=1))  # warm-up
    steps = 20
    secs, _ = timed(
        lambda: train_generator(model, data, TrainConfig(steps=steps, batch_size=16)), device
    )
    return {"generator_train_steps_per_s": round(steps / secs, 2)}


def measure(models: Path, prefer: str | None) -> dict[str, Any]:
    device = runtime.device(prefer)
    if os.environ.get("BENCH_THREADS"):
        torch.set_num_threads(int(os.environ["BENCH_THREADS"]))
    figures: dict[str, Any] = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch_threads": torch.get_num_threads(),
    }
    for name, part in (
        ("inpainting", lambda: inpainting(models / "inpainting", device)),
        ("causal_lm", lambda: causal_lm(models / "causal_lm", device)),
        ("tiny_generator", lambda: tiny_generator(device)),
    ):
        try:
            figures.update(part())
        except Exception as exc:  # one broken part must not hide the others' figures
            figures[f"{name}_error"] = f"{type(exc).__name__}: {exc}"[:300]
    return figures


def table(path: Path) -> None:
    """Rows of `path` (JSON lines: {"name", "device", "figures"}) as name | key | gpu | cpu."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    by: dict[str, dict[str, dict[str, Any]]] = {}
    for row in rows:
        by.setdefault(row["name"], {})[row["device"]] = row["figures"]
    print(f"{'check':<16} {'figure':<34} {'gpu':>14} {'cpu':>14} {'gpu/cpu':>8}")
    for name, runs in by.items():
        gpu, cpu = runs.get("gpu", {}), runs.get("cpu", {})
        for key in dict.fromkeys([*gpu, *cpu]):
            a, b = gpu.get(key, ""), cpu.get(key, "")
            if isinstance(a, dict | list) or isinstance(b, dict | list):
                continue
            ratio = ""
            if _number(a) and _number(b) and b:
                ratio = f"{a / b:.2f}"
            print(f"{name:<16} {key:<34} {_shown(a):>14} {_shown(b):>14} {ratio:>8}")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _shown(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)[:14]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", type=Path)
    ap.add_argument("--device", help="cuda or cpu; default: CUDA when present")
    ap.add_argument("--table", type=Path, help="print the side-by-side table of a results file")
    args = ap.parse_args()
    if args.table:
        table(args.table)
        return
    if args.models is None:
        ap.error("--models is required")
    print(json.dumps(measure(args.models, args.device)))


if __name__ == "__main__":
    main()
