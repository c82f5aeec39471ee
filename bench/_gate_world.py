"""The launch-gate benchmark's world, labels and decoded inputs (bench/gate.py's data side).

The world's ads are generated once per (n, seed) and cached as PNG files with a metadata
file; labels are simulated from its truth; each split's model inputs are decoded once and
kept for the run.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from rewards.ml.align import aligned_inputs, training_inputs
from rewards.ml.aspects import AD_ASPECTS, AspectSpec
from rewards.ml.images import load_image_file, load_reference_file
from rewards.ml.labels import Annotation

ROOT = Path(__file__).resolve().parents[1]
ASSET_DIR = ROOT / "node_modules/@lobehub/fluent-emoji-3d/assets"
ASPECTS = AD_ASPECTS


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --- world -------------------------------------------------------------------------------


def _gen_chunk(args: tuple[int, int, int, str]) -> list[dict]:
    start, n, seed, out = args
    from labeling.world.composer import generate_world
    from labeling.world.products import load_cutout

    out_dir = Path(out)
    rows = []
    for i, (product, ad) in enumerate(generate_world(n, seed, ASSET_DIR)):
        key = f"ad-{start + i:06d}"
        ad.image.save(out_dir / "images" / f"{key}.png", compress_level=1)
        ref = out_dir / "refs" / f"{product.sku}.png"
        if not ref.exists():
            load_cutout(product, ASSET_DIR).save(ref)
        rows.append({"key": key, "sku": product.sku, "truth": ad.truth, "usable": ad.usable})
    return rows


def build_world(n: int, seed: int, cache: Path) -> list[dict]:
    """Generate (or reuse) n ads as PNG files plus a metadata file; chunks run in 2
    processes, each chunk seeded from (seed, chunk) so the world is reproducible."""
    folder = cache / f"world-n{n}-s{seed}"
    meta = folder / "meta.json"
    # A bigger cached world with the same seed starts with this one (chunks are seeded by
    # their start), so its first n ads are reused.
    for other in sorted(cache.glob(f"world-n*-s{seed}/meta.json")):
        if int(other.parent.name.split("-")[1][1:]) >= n:
            log(f"world: reusing the first {n} ads of {other.parent}")
            rows = json.loads(other.read_text())[:n]
            for r in rows:
                r["folder"] = str(other.parent)
            return rows
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "refs").mkdir(exist_ok=True)
    chunk = 250
    jobs = [(s, min(chunk, n - s), seed * 100_000 + s, str(folder)) for s in range(0, n, chunk)]
    t0 = time.perf_counter()
    rows: list[dict] = []
    with ProcessPoolExecutor(2) as pool:
        for part in pool.map(_gen_chunk, jobs):
            rows += part
            log(f"world: {len(rows)}/{n} images ({time.perf_counter() - t0:.0f} s)")
    meta.write_text(json.dumps(rows))
    for r in rows:
        r["folder"] = str(folder)
    return rows


# --- labels ------------------------------------------------------------------------------


def simulate_labels(rows: list[dict], sides: dict[str, str], seed: int) -> list[Annotation]:
    """Train items: one of 12 reviewers (error rates 3-15%) each, two more on a third of
    them. Calibration items: three senior auditors (1-3%) each, as the ops audit would give,
    and where they disagree on any aspect two more settle it (``settled_labels``). Test
    items: none (they are judged against ground truth)."""
    from labeling.world.reviewers import reviewer_pool, settled_labels

    pool = reviewer_pool(12, seed)
    auditors = reviewer_pool(5, seed + 1, error_range=(0.01, 0.03))
    for a in auditors:
        a.name = "auditor-" + a.name
    rng = np.random.default_rng(seed)
    anns = []
    for row in rows:
        side = sides[row["key"]]
        if side == "test":
            continue
        if side == "calib":
            labs = settled_labels(row["truth"], row["key"], auditors)
        else:
            k = 3 if rng.random() < 1 / 3 else 1
            chosen = [pool[int(j)] for j in rng.choice(len(pool), k, replace=False)]
            labs = [(rev, rev.label(row["truth"], item_key=row["key"])) for rev in chosen]
        for rev, lab in labs:
            for aspect in (*ASPECTS, "usable"):
                value = int(lab[aspect] in ("ok", "yes"))
                anns.append(Annotation(row["key"], rev.name, aspect, value))
    return anns


# --- data --------------------------------------------------------------------------------


def ref_bank(rows: list[dict], ref_size: int):
    """The products' reference cut-outs as a bank (one row per product) and each image's
    row in it."""
    folder = Path(rows[0]["folder"])
    skus = sorted({r["sku"] for r in rows})
    bank = np.stack(
        [load_reference_file(folder / "refs" / f"{sku}.png", ref_size, "rgba") for sku in skus]
    )
    row = {sku: i for i, sku in enumerate(skus)}
    return torch.from_numpy(bank), torch.tensor([row[r["sku"]] for r in rows])


def decode(rows: list[dict], size: int, ref_size: int):
    """Images as uint8 [N, 3, size, size]; references as a bank (one row per product) and
    each image's row in it."""
    folder = Path(rows[0]["folder"])
    paths = [folder / "images" / f"{r['key']}.png" for r in rows]
    with ThreadPoolExecutor(2) as pool:
        imgs = np.stack(list(pool.map(lambda p: load_image_file(p, size), paths)))
    return torch.from_numpy(imgs), ref_bank(rows, ref_size)


_INPUTS: dict = {}
# Located boxes per ad key, found at ingestion (the app keeps them on Item.located when it
# scores an image), so that retraining only decodes and crops.
_BOXES: dict[str, np.ndarray] = {}


def ingest_boxes(rows: list[dict]) -> None:
    """Locate the product in each ad, as scoring does when an image arrives."""
    folder = Path(rows[0]["folder"])
    _, _, boxes = aligned_inputs(
        [str(folder / "images" / f"{r['key']}.png") for r in rows],
        [str(folder / "refs" / f"{r['sku']}.png") for r in rows],
    )
    _BOXES.update(zip([r["key"] for r in rows], boxes))


def _key(spec: AspectSpec, split: str) -> tuple:
    return (split, spec.aligned, spec.input_size, spec.ref_input_size)


def inputs_for(spec: AspectSpec, rows: list[dict], split: str, reg=None):
    """(images, (reference bank, index)) for a spec, decoded once per split. For an aligned
    spec, each file is decoded once for it and for ``reg``'s whole-ad aspects too (crops
    around the located product for the one, whole ads for the others)."""
    key = _key(spec, split)
    if key in _INPUTS:
        return _INPUTS[key]
    if not spec.aligned:
        _INPUTS[key] = decode(rows, spec.input_size, spec.ref_size)
        return _INPUTS[key]
    folder = Path(rows[0]["folder"])
    whole = [s for s in (reg.models() if reg is not None else []) if not s.aligned]
    whole = [s for s in whole if _key(s, split) not in _INPUTS]
    known = [_BOXES.get(r["key"], np.full(4, np.nan, np.float32)) for r in rows]
    got = training_inputs(
        [str(folder / "images" / f"{r['key']}.png") for r in rows],
        [str(folder / "refs" / f"{r['sku']}.png") for r in rows],
        spec.input_size,
        whole_sizes=tuple(sorted({s.input_size for s in whole})),
        boxes=np.stack(known).astype(np.float32),
    )
    for s in whole:
        _INPUTS[_key(s, split)] = (
            torch.from_numpy(got.whole[s.input_size]),
            ref_bank(rows, s.ref_size),
        )
    _INPUTS[key] = (
        torch.from_numpy(got.crops),
        (torch.from_numpy(got.refs), torch.arange(len(rows))),
    )
    return _INPUTS[key]
