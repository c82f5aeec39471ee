"""The ensemble: the live model of every aspect, scoring batches of stored ad images.

On CPU, PNG decode, resize and the shape aspect's alignment cost more than the three small
networks, so files are decoded and aligned in a thread pool (Pillow and torch release the
GIL) a few batches ahead of the networks, which run on the calling thread.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from workers.ml.runtime import device as pick_device
from workers.ml.runtime import torch_threads

from .align import AD_SIDE, TemplateBank, align_batch, locate_known
from .aspects import AspectRegistry, AspectSpec, default_registry
from .images import decode_files, load_reference_file
from .model import AspectNet, load

# Keys of a decoded batch that are not network inputs: the ads at the alignment resolution
# and the template row of each ad's reference.
ALIGN_KEY = 0
ROWS_KEY = (0, "rows")
BOXES_KEY = (0, "boxes")  # the aligned ads' matched boxes, (boxes [N, 4], unused)


def input_key(spec: AspectSpec) -> int:
    """Key of an aspect's image input in a decoded batch: its side, negated for aligned
    crops (which are not the whole ad at that side)."""
    return -spec.input_size if spec.aligned else spec.input_size


class Ensemble:
    def __init__(
        self,
        models: Mapping[str, AspectNet],
        registry: AspectRegistry | None = None,
        device: str | torch.device | None = None,
    ) -> None:
        self.registry = registry or default_registry()
        self.device = pick_device(device)
        for name in models:
            if self.registry.get(name).kind != "model":
                raise ValueError(f"{name!r} is a rule aspect, not a model")
        self.models = {k: m.to(self.device).eval() for k, m in models.items()}
        self._ref_cache: dict[tuple[str, int, str], np.ndarray] = {}
        self._bank = TemplateBank()

    @classmethod
    def load(
        cls,
        folders: Mapping[str, str | Path],
        registry: AspectRegistry | None = None,
        device: str | torch.device | None = None,
    ) -> Ensemble:
        """Load the live artifact of each aspect (aspect -> model folder). A missing or
        corrupt artifact raises ArtifactError: scoring with a silently absent aspect would
        let the gate judge on fewer aspects than it was calibrated for."""
        dev = pick_device(device)
        return cls({a: load(f, device=dev) for a, f in folders.items()}, registry, dev)

    @property
    def aspects(self) -> list[str]:
        return [s.name for s in self.registry.models() if s.name in self.models]

    def _specs(self) -> list[AspectSpec]:
        return [self.registry.get(a) for a in self.aspects]

    @torch.no_grad()
    def score_arrays(
        self,
        images: Mapping[int, np.ndarray],
        refs: Mapping[tuple[int, str], tuple[np.ndarray, np.ndarray]],
    ) -> dict[str, np.ndarray]:
        """Score one decoded batch. `images[size]` is uint8 [N, 3, size, size];
        `refs[(ref_size, kind)]` is (bank uint8 [U, C, ref_size, ref_size], index [N]) for
        aspects that take one (see AspectSpec.ref_input_size)."""
        if ALIGN_KEY in images:
            images, refs = dict(images), dict(refs)
            self._align(images, refs)
        out = {}
        for spec in self._specs():
            x = torch.from_numpy(images[input_key(spec)]).to(self.device)
            r = ri = None
            if spec.uses_reference:
                bank, index = refs[(spec.ref_input_size, spec.reference)]
                r = torch.from_numpy(bank).to(self.device)
                ri = torch.from_numpy(index).to(self.device)
            out[spec.name] = torch.sigmoid(self.models[spec.name](x, r, ri)).cpu().numpy()
        return out

    def _reference(self, path: str, size: int, kind: str) -> np.ndarray:
        # Few products, many ads each: decode every reference cut-out once.
        key = (path, size, kind)
        arr = self._ref_cache.get(key)
        if arr is None:
            arr = load_reference_file(path, size, kind)  # type: ignore[arg-type]
            self._ref_cache[key] = arr
        return arr

    def _decode(
        self,
        paths: Sequence[str],
        ref_paths: Sequence[str] | None,
        boxes: np.ndarray | None = None,
    ) -> tuple[dict[int, np.ndarray], dict[tuple[int, str], tuple[np.ndarray, np.ndarray]]]:
        """Decode a batch (in a pool thread: Pillow and torch release the GIL) and align the
        ads with their references for aspects that take aligned crops (the costly part,
        so it runs in the pool too and both cores search). ``boxes`` [N, 4]: boxes already
        found for these ads (NaN rows are located); the batch's boxes come back under
        ``BOXES_KEY``."""
        specs = self._specs()
        sizes = sorted({s.input_size for s in specs if not s.aligned})
        if any(s.aligned for s in specs):
            sizes.append(AD_SIDE)
        images = {
            ALIGN_KEY if size == AD_SIDE else size: arr
            for size, arr in decode_files(paths, sizes).items()
        }
        refs: dict[tuple[int, str], tuple[np.ndarray, np.ndarray]] = {}
        needed = {(s.ref_input_size, s.reference) for s in specs if s.uses_reference}
        if needed and ref_paths is None:
            raise ValueError("these aspects need the product reference cut-outs")
        for key in needed:
            assert ref_paths is not None
            if key[1] == "aligned":
                rows = [self._bank.row(str(p)) for p in ref_paths]
                refs[ROWS_KEY] = (np.zeros(0), np.asarray(rows, dtype=np.int64))
                continue
            distinct = list(dict.fromkeys(str(p) for p in ref_paths))
            row = {p: i for i, p in enumerate(distinct)}
            bank = np.stack([self._reference(p, *key) for p in distinct])
            refs[key] = (bank, np.array([row[str(p)] for p in ref_paths], dtype=np.int64))
        if ALIGN_KEY in images:
            self._align(images, refs, boxes)
        return images, refs

    def _align(
        self,
        images: dict[int, np.ndarray],
        refs: dict[tuple[int, str], tuple[np.ndarray, np.ndarray]],
        boxes: np.ndarray | None = None,
    ) -> None:
        """Fill in the aligned crops and references of a batch decoded by :meth:`_decode`."""
        ads = torch.from_numpy(images.pop(ALIGN_KEY))
        rows = torch.from_numpy(refs.pop(ROWS_KEY)[1])
        found = locate_known(
            ads, rows, self._bank, None if boxes is None else torch.from_numpy(boxes)
        )
        for spec in self._specs():
            if spec.aligned and input_key(spec) not in images:
                crops, aligned = align_batch(ads, rows, self._bank, spec.input_size, found)
                images[input_key(spec)] = crops.numpy()
                refs[(spec.ref_input_size, spec.reference)] = (
                    aligned.numpy(),
                    np.arange(len(ads), dtype=np.int64),
                )
        refs[BOXES_KEY] = (found.numpy().astype(np.float32), np.zeros(0, dtype=np.int64))

    def score_files(
        self,
        paths: Sequence[str | Path],
        ref_paths: Sequence[str | Path] | None = None,
        *,
        batch_size: int = 128,
        workers: int = 2,
        prefetch: int = 2,
        boxes: np.ndarray | None = None,
        return_boxes: bool = False,
    ) -> dict[str, np.ndarray]:
        """Per-aspect P(ok) for image files (in order). `ref_paths[i]` is the reference
        cut-out of image i's product, needed when an aspect takes one.

        With aligned aspects, ``boxes`` [N, 4] passes boxes found by an earlier run (NaN
        rows are located), and ``return_boxes`` adds each image's box under ``"_boxes"``
        (NaN when no aspect aligns), so a caller can keep them for retraining."""
        files = [str(p) for p in paths]
        refs = [str(p) for p in ref_paths] if ref_paths is not None else None
        if refs is not None and len(refs) != len(files):
            raise ValueError("ref_paths must match paths")
        if boxes is not None and boxes.shape != (len(files), 4):
            raise ValueError("boxes must be [N, 4], one row per path")
        if not self.models or not files:
            out = {a: np.zeros(0) for a in self.aspects}
            return {**out, "_boxes": np.zeros((0, 4), np.float32)} if return_boxes else out
        # One torch thread while the pool decodes and aligns: their threads only contend.
        with torch_threads(1 if workers > 1 else None):
            return self._score_chunks(
                files, refs, boxes, batch_size, workers, prefetch, return_boxes
            )

    def _score_chunks(
        self,
        files: list[str],
        refs: list[str] | None,
        boxes: np.ndarray | None,
        batch_size: int,
        workers: int,
        prefetch: int,
        return_boxes: bool,
    ) -> dict[str, np.ndarray]:
        results: dict[str, list[np.ndarray]] = {a: [] for a in self.aspects}
        found: list[np.ndarray] = []

        def chunk(start: int):
            end = start + batch_size
            return self._decode(
                files[start:end],
                refs[start:end] if refs is not None else None,
                boxes[start:end] if boxes is not None else None,
            )

        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            pending: deque[Future] = deque()
            it = iter(range(0, len(files), batch_size))
            for s in it:
                pending.append(pool.submit(chunk, s))
                if len(pending) >= workers * prefetch:
                    break
            while pending:
                images, rr = pending.popleft().result()
                nxt = next(it, None)
                if nxt is not None:
                    pending.append(pool.submit(chunk, nxt))
                n = len(next(iter(images.values())))
                got = rr.pop(BOXES_KEY, None)
                found.append(got[0] if got is not None else np.full((n, 4), np.nan, np.float32))
                for a, v in self.score_arrays(images, rr).items():
                    results[a].append(v)
        out = {a: np.concatenate(v) for a, v in results.items()}
        if return_boxes:
            out["_boxes"] = np.concatenate(found)
        return out

    def check_rules(self, metadata: Sequence[Mapping]) -> dict[str, np.ndarray]:
        """Hard business rules per image: rule name -> bool array (True = passed)."""
        return {
            spec.name: np.array([bool(spec.rule(m)) for m in metadata], dtype=bool)  # type: ignore[misc]
            for spec in self.registry.rules()
        }
