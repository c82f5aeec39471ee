"""The three training phases as jobs: load the parent version, train, evaluate on the
held-out long-tail queries, save with ``save_pretrained`` as a new ModelVersion.

Django side only: the training itself is ``workers.qe.ml``; torch and transformers
are imported inside the functions so that importing this module stays cheap.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from django.conf import settings

from jdreview.models import Project
from workers.models import Job, ModelVersion
from workers.qe.apps import FAMILY
from workers.qe.catalog import catalog_fingerprint, catalog_sync, query_world
from workers.qe.selectors import approved_pairs, reviewer_term_ratings
from workers.versions import (
    VersionError,
    artifact_dir,
    artifact_path,
    live_version,
    model_version_create,
    versions_of,
)

if TYPE_CHECKING:
    from workers.qe.jobs import PhaseParams, QEPretrainParams
    from workers.reporter import JobReporter

PHASES = ("pretrain", "sft", "ppo", "grpo")
# Which phase's model each phase starts from.
PREVIOUS = {"sft": "pretrain", "ppo": "sft", "grpo": "sft"}
# Phases whose models write expansions; a pre-trained model only continues text.
SERVABLE = ("sft", "ppo", "grpo")
MIN_REVIEWER_RATINGS = 30
SAMPLE_QUERIES = 6
CURVE_POINTS = 200


class PhaseError(RuntimeError):
    """The phase cannot start (no parent model, no catalog, a bad model path)."""


def _project(job: Job) -> Project:
    if job.project is None:
        raise PhaseError("query-expansion jobs belong to a project")
    return job.project


def _parent(job: Job, phase: str, number: int | None) -> ModelVersion | None:
    if phase == "pretrain":
        return None
    versions = versions_of(_project(job), FAMILY)
    if number is not None:
        found = [v for v in versions if v.version == int(number)]
        if not found:
            raise PhaseError(f"no query-expansion version v{number} in this project")
        return found[0]
    wanted = PREVIOUS[phase]
    for v in versions:  # newest first
        if v.name == wanted:
            return v
    raise PhaseError(f"{phase} starts from a {wanted} model; run the {wanted} phase first")


def _lm_expansions(model: Any, tok: Any, texts: Sequence[str]) -> list[list[str]]:
    from workers.qe.ml.model import generate, parse_expansion

    out: list[list[str]] = []
    for i in range(0, len(texts), 64):
        _, _, gen = generate(model, tok, list(texts[i : i + 64]), 16)
        out += [parse_expansion(t) for t in gen]
    return out


def heldout_scores(engine: Any, queries: Sequence[Any], expansions: Sequence[list[str]]) -> dict:
    """recall@10 / precision@10 over the held-out queries, expanded as given."""
    from workers.qe.ml.model import expanded_query
    from workers.qe.ml.search import precision_at_k, recall_at_k

    rec, prec = [], []
    for q, terms in zip(queries, expansions):
        res = engine.search(expanded_query(q.text, terms), 10)
        rec.append(recall_at_k(res, q.relevant, 10))
        prec.append(precision_at_k(res, q.relevant, 10))
    return {"recall10": statistics.fmean(rec), "precision10": statistics.fmean(prec)}


class _Curve:
    """The per-step metrics of a phase: kept for the version, and shown on the job row while
    the phase trains (through the reporter's stage, see run_phase)."""

    def __init__(self, phase: str) -> None:
        self.phase = phase
        self.points: list[dict[str, float]] = []

    def add(self, fraction: float, metrics: dict) -> dict[str, Any]:
        point = {k: float(v) for k, v in metrics.items() if isinstance(v, int | float)}
        point["fraction"] = round(float(fraction), 4)
        self.points.append(point)
        return {"phase": self.phase, "curve": self.thinned()}

    def line(self, fraction: float, metrics: dict) -> str:
        shown = " ".join(
            f"{k}={float(v):.3f}"
            for k, v in metrics.items()
            if k in ("loss", "reward", "kl", "step") and isinstance(v, int | float)
        )
        return f"{self.phase} {fraction:4.0%} {shown}"

    def thinned(self) -> list[dict[str, float]]:
        step = max(1, len(self.points) // CURVE_POINTS)
        return self.points[::step]


def _model_config(params: QEPretrainParams) -> Any:
    from workers.qe.ml.model import ModelConfig

    if params.size == "full":
        path = getattr(settings, "QE_FULL_MODEL_PATH", "") or ""
        if not path or not Path(path).is_dir():
            raise PhaseError("the full config needs QE_FULL_MODEL_PATH: a local causal-LM folder")
        return ModelConfig(size="full", path=path, seed=params.seed)
    return ModelConfig(n_layer=params.layers, seed=params.seed)


def run_phase(job: Job, reporter: JobReporter, phase: str, params: PhaseParams) -> dict[str, Any]:
    """Run one training phase for ``job.project`` and register the result as a version."""
    import torch

    from workers.ml.runtime import device
    from workers.qe.ml.model import build_model, load, save
    from workers.qe.ml.queries import pretraining_corpus, sft_pairs
    from workers.qe.ml.search import BM25Engine

    if phase not in PHASES:
        raise PhaseError(f"unknown phase {phase!r}")
    from workers.qe.jobs import QEPretrainParams

    seed = params.seed
    torch.manual_seed(seed)
    if not catalog_fingerprint()[0]:
        catalog_sync(seed=seed)
        reporter.log("the search catalog was empty: stored the world catalog")
    catalog, qs = query_world()
    queries = None if isinstance(params, QEPretrainParams) else params.queries
    train = qs.train[:queries]  # None: all of them
    heldout = qs.heldout[: params.eval_queries]
    engine = BM25Engine(catalog)
    samples = [q.text for q in qs.heldout[:SAMPLE_QUERIES]]
    parent = _parent(job, phase, None if isinstance(params, QEPretrainParams) else params.parent)
    reporter.progress(
        0.02,
        metrics={"phase": phase},
        log=f"{phase}: {len(catalog)} products, {len(train)} training queries, "
        f"{len(heldout)} held-out; parent {f'v{parent.version} {parent.name}' if parent else '-'}",
    )
    if parent is None:
        if not isinstance(params, QEPretrainParams):
            raise PhaseError(f"{phase} starts from a parent model")
        pairs = sft_pairs(qs.train)
        corpus = pretraining_corpus(catalog, qs)
        model, tok = build_model(_model_config(params), corpus + [f"{q}\n{e}" for q, e in pairs])
    else:
        model, tok = load(artifact_path(parent))
    cast(Any, model).to(device())  # transformers' stubs type .to() as a dtype cast
    curve = _Curve(phase)
    progress = reporter.stage(0.05, 0.85, metrics=curve.add, log=curve.line)
    extra: dict[str, Any] = {}
    with artifact_dir() as tmp:
        if phase == "pretrain":
            result = _pretrain(params, model, tok, catalog, qs, progress, tmp, samples)
        elif phase == "sft":
            result, extra = _sft(job, params, model, tok, train, progress, tmp, samples)
        else:
            result, extra = _rl(
                job, reporter, params, phase, model, tok, qs, train, engine, progress, samples
            )
            extra["reward_components"] = _component_summary(curve.points, extra["weights"])
        reporter.progress(0.88, log="evaluating on the held-out long-tail queries")
        texts = [q.text for q in heldout]
        scores = heldout_scores(engine, heldout, _lm_expansions(model, tok, texts))
        base = heldout_scores(engine, heldout, [[] for _ in heldout])
        metrics: dict[str, Any] = {
            "phase": phase,
            **result.metrics,
            **scores,
            "recall10_none": base["recall10"],
            "precision10_none": base["precision10"],
            "heldout_queries": len(heldout),
            "curve": curve.thinned(),
            "samples": [{"query": q, "terms": t} for q, t in result.samples],
            **extra,
        }
        save(model, tok, tmp)
        version = model_version_create(
            project=_project(job),
            family=FAMILY,
            name=phase,
            saved_dir=tmp,
            config={"phase": phase, "params": dict(job.params), "n_params": model.num_parameters()},
            metrics=metrics,
            parent=parent,
            job=job,
            user=job.created_by,
        )
    promoted = _maybe_promote(version)
    reporter.log(
        f"saved v{version.version} ({phase}): held-out recall@10 {scores['recall10']:.3f} "
        f"(none {base['recall10']:.3f}), precision@10 {scores['precision10']:.3f}"
        + ("; now live" if promoted else "")
    )
    return {**metrics, "version": version.version, "live": promoted}


def servable_check(version: ModelVersion) -> None:
    """The family's check before anything goes live (workers.versions.family_register): a
    pre-trained model only continues text, it does not write expansions."""
    if version.name not in SERVABLE:
        raise VersionError(f"a {version.name} model does not write expansions; fine-tune it first")


def _maybe_promote(version: ModelVersion) -> bool:
    """A servable version goes live by itself when its held-out recall@10 is not worse than
    the live one's (or nothing is live); otherwise a manager promotes it by hand."""
    from workers.versions import model_version_promote

    if version.name not in SERVABLE:
        return False
    live = live_version(version.project, FAMILY)
    if live is not None and live.metrics.get("recall10", 0.0) > version.metrics["recall10"]:
        return False
    try:
        model_version_promote(version=version)
    except VersionError:
        return False
    return True


def _pretrain(params, model, tok, catalog, qs, progress, tmp, samples):  # type: ignore[no-untyped-def]
    from workers.qe.ml.queries import pretraining_corpus
    from workers.qe.ml.train import PretrainConfig, pretrain

    cfg = PretrainConfig(
        lr=params.lr,
        steps=params.steps,
        batch_size=params.batch_size,
        seed=params.seed,
        log_every=max(1, min(20, params.steps // 10)),
    )
    return pretrain(model, tok, pretraining_corpus(catalog, qs), cfg, progress, None, samples)


def _sft(job, params, model, tok, train, progress, tmp, samples):  # type: ignore[no-untyped-def]
    import json

    from workers.qe.ml.queries import sft_pairs
    from workers.qe.ml.train import SFTConfig, finetune

    approved = approved_pairs(_project(job))
    pairs = sft_pairs(train, approved)
    # The exact fine-tuning set travels with the model: what it learned from is auditable.
    with open(Path(tmp) / "sft_pairs.jsonl", "w") as f:
        for q, e in pairs:
            f.write(json.dumps({"query": q, "expansion": e}) + "\n")
    cfg = SFTConfig(
        lr=params.lr,
        steps=params.steps,
        batch_size=params.batch_size,
        seed=params.seed,
        log_every=max(1, min(20, params.steps // 10)),
    )
    result = finetune(model, tok, pairs, cfg, progress, None, samples)
    return result, {"click_log_pairs": len(pairs) - len(approved), "approved_pairs": len(approved)}


def relevance_ratings(
    job: Job, train: Sequence[Any], *, seed: int
) -> tuple[list[tuple[str, str, bool]], str]:
    """Reviewers' term ratings when there are enough of both kinds, else simulated ones."""
    from workers.qe.ml.queries import simulated_term_ratings

    ratings = reviewer_term_ratings(_project(job))
    kinds = {r for _, _, r in ratings}
    if len(ratings) >= MIN_REVIEWER_RATINGS and kinds == {True, False}:
        return ratings, "reviewers"
    return simulated_term_ratings(train, seed=seed), "simulated"


def _rl(job, reporter, params, phase, model, tok, qs, train, engine, progress, samples):  # type: ignore[no-untyped-def]
    from workers.ml.runtime import device
    from workers.qe.ml.queries import rl_split
    from workers.qe.ml.reward import DEFAULT_WEIGHTS, EmbeddingCache, QEReward, TermRelevanceModel

    seed = params.seed
    cache = EmbeddingCache(str(device()))
    ratings, source = relevance_ratings(job, train, seed=seed)
    rel_model = TermRelevanceModel(cache)
    accuracy = rel_model.fit(ratings)
    reporter.log(
        f"term-relevance model: {len(ratings)} {source} ratings, train accuracy {accuracy:.3f}"
    )
    reward = QEReward(engine, cache, rel_model, DEFAULT_WEIGHTS)
    extra = {
        "weights": dict(DEFAULT_WEIGHTS),
        "relevance_ratings": len(ratings),
        "relevance_source": source,
        "relevance_train_accuracy": accuracy,
    }
    val, pool = rl_split(qs)
    val = val[: params.eval_queries or 240]
    if phase == "ppo":
        from workers.qe.ml.ppo import PPOConfig, ppo_train

        batch = params.batch_size
        cfg = PPOConfig(
            iterations=params.steps,
            batch_size=batch,
            minibatch_size=max(1, min(32, batch // 2)),
            seed=seed,
        )

        def validate(m) -> float:  # type: ignore[no-untyped-def]
            texts = [q.text for q in val]
            return heldout_scores(engine, val, _lm_expansions(m, tok, texts))["recall10"]

        result = ppo_train(
            model, tok, pool, reward, cfg, progress, None, samples, DEFAULT_WEIGHTS, validate
        )
    else:
        from workers.qe.ml.grpo import GRPOConfig, grpo_train

        cfg_g = GRPOConfig(
            steps=params.steps,
            prompts_per_step=params.prompts,
            num_generations=params.generations,
            seed=seed,
        )
        result = grpo_train(
            model, tok, pool, reward.components, DEFAULT_WEIGHTS, cfg_g, progress, None, samples
        )
    return result, extra


def _component_summary(points: list[dict[str, float]], weights: dict[str, float]) -> dict:
    """Per reward component: its weight and its weighted mean in the first and last quarter."""
    out: dict[str, dict[str, float]] = {}
    window = max(1, len(points) // 4)
    for name, weight in weights.items():
        key = f"reward/{name}"
        values = [pt[key] for pt in points if key in pt]
        if not values:
            continue
        out[name] = {
            "weight": weight,
            "first": statistics.fmean(values[:window]),
            "last": statistics.fmean(values[-window:]),
        }
    return out
