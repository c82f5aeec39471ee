"""Serving the live query-expansion model: clean the query, expand, search, cache.

The model of a version is loaded once per process (a small LRU of versions), and each
answer is cached in the Django cache under the version and the normalised query, so a new
live version is never answered from the old one's cache.

A request never waits for a model to load (importing torch and transformers and reading
the weights takes many seconds on a cold process): the first request for a version starts
the load in a background thread and is answered "loading, retry" (``ModelLoading``, a 503
with Retry-After). Web workers also load every live version when they start
(``models_warm``, from the gunicorn hook in ``jdreview/gunicorn_conf.py``).

The guard: each added term goes through the project's live term-relevance model (the
``qe_term_relevance`` family, the model RL's query-level reward uses) and terms it rates
below the project's threshold (``workers.qe.guard``) are dropped before search. With no
live relevance model the answer says so and every term is searched. The relevance model is
loaded with the language model (same background load, same 503 while loading); its MiniLM
embeddings are cached per text, bounded.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import unicodedata
from collections import OrderedDict
from typing import Any, cast

from django.core.cache import cache

from jdreview.models import Project
from workers.models import ModelVersion
from workers.qe.apps import FAMILY, RELEVANCE_FAMILY
from workers.qe.guard import guard_threshold, relevance_version_ref
from workers.qe.search import BackendUnavailable, default_backend, engine_for, products_by_sku
from workers.versions import artifact_path, live_version

MAX_QUERY_CHARS = 200
CACHE_SECONDS = 3600
RESULTS = 10
LOADED_VERSIONS = 4  # the last two of each family: a promotion never waits for a load
# Texts whose MiniLM embedding the guard keeps (384 floats each: about 15 MB).
EMBEDDINGS_KEPT = 10_000


class QueryError(ValueError):
    """The query cannot be expanded as given; the message says why (a 400)."""


class NoLiveModel(LookupError):
    """Nothing to serve yet: no live version (or no catalog) in this project (a 409)."""


class ModelLoading(RuntimeError):
    """The live model is loading in this process; ask again shortly (a 503)."""

    retry_after_s = 5


def clean_query(raw: Any) -> str:
    """The query as typed, checked: text, not empty, not too long, no control characters.

    Control characters (NUL, escapes, line breaks), unpaired surrogates and U+FFFD (what
    bytes that are not UTF-8 decode to) mean binary or pasted garbage, not a search.
    """
    if not isinstance(raw, str):
        raise QueryError("query must be text")
    text = unicodedata.normalize("NFKC", raw).strip()
    if not text:
        raise QueryError("query is empty")
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(f"query is longer than {MAX_QUERY_CHARS} characters")
    for ch in text:
        if unicodedata.category(ch) in ("Cc", "Cs", "Co") or ch == "\ufffd":
            raise QueryError("query contains control characters or binary data")
    return " ".join(text.split())


def normalise(query: str) -> str:
    return " ".join(query.lower().split())


_lock = threading.Lock()
# Keyed by the artifact folder (unique per version, even where row ids are reused).
_loaded: OrderedDict[str, tuple[Any, Any]] = OrderedDict()
# Artifacts being loaded by a background thread, and the last load error of each.
_loading: set[str] = set()
_failed: dict[str, str] = {}


def model_is_loaded(version: ModelVersion) -> bool:
    with _lock:
        return version.artifact in _loaded


def model_load_start(version: ModelVersion) -> None:
    """Load a version (and the search index) in a background thread, once at a time."""
    with _lock:
        if version.artifact in _loaded or version.artifact in _loading:
            return
        _loading.add(version.artifact)
    threading.Thread(
        target=_load_in_background, args=(version,), name="qe-model-load", daemon=True
    ).start()


def _load_in_background(version: ModelVersion) -> None:
    from django.db import connection

    try:
        _loaded_artifact(version)
        # The BM25 index is the other cold cost of a first answer; an empty catalog is
        # reported by the request itself.
        with contextlib.suppress(Exception):
            engine_for(None)
        _failed.pop(version.artifact, None)
    except Exception as exc:  # reported to the next request instead of a silent thread death
        _failed[version.artifact] = f"{type(exc).__name__}: {exc}"
    finally:
        with _lock:
            _loading.discard(version.artifact)
        connection.close()


def models_warm() -> int:
    """Start loading every project's live version (a web worker calls this at start)."""
    versions = ModelVersion.objects.filter(
        family__in=(FAMILY, RELEVANCE_FAMILY), status=ModelVersion.Status.LIVE
    )
    count = 0
    for version in versions:
        model_load_start(version)
        count += 1
    return count


def _loaded_artifact(version: ModelVersion) -> Any:
    """What a version serves with, loaded from its artifact once per process (blocking)."""
    with _lock:
        if version.artifact in _loaded:
            _loaded.move_to_end(version.artifact)
            return _loaded[version.artifact]
    if version.family == RELEVANCE_FAMILY:
        from workers.qe.ml.reward.relevance import relevance_load

        loaded: Any = relevance_load(artifact_path(version), embedding_cache())
    else:
        from workers.qe.ml.model import load

        model, tok = load(artifact_path(version))
        model.eval()
        loaded = (model, tok)
    with _lock:
        _loaded[version.artifact] = loaded
        while len(_loaded) > LOADED_VERSIONS:
            _loaded.popitem(last=False)
    return loaded


def loaded_model(version: ModelVersion) -> tuple[Any, Any]:
    """(model, tokenizer) of a version, loaded from its artifact once per process.

    This blocks while it loads: jobs and tests call it; requests go through
    :func:`expansion_for`, which does not wait.
    """
    return cast(tuple[Any, Any], _loaded_artifact(version))


def loaded_relevance(version: ModelVersion) -> Any:
    """The TermRelevanceModel of a ``qe_term_relevance`` version (blocking, as above)."""
    return _loaded_artifact(version)


_embeddings: Any = None


def embedding_cache() -> Any:
    """The process's one MiniLM embedding cache for the guard (loading MiniLM takes seconds)."""
    global _embeddings
    from workers.qe.ml.reward.guard import BoundedEmbeddingCache

    with _lock:
        if _embeddings is None:
            _embeddings = BoundedEmbeddingCache("cpu", max_items=EMBEDDINGS_KEPT)
        return _embeddings


def expand_terms(version: ModelVersion, queries: list[str]) -> list[list[str]]:
    """Greedy expansion terms of a version for each query (deterministic)."""
    from workers.qe.ml.model import generate, parse_expansion

    model, tok = loaded_model(version)
    out: list[list[str]] = []
    for i in range(0, len(queries), 64):
        _, _, texts = generate(model, tok, queries[i : i + 64], 16)
        out += [list(dict.fromkeys(parse_expansion(t))) for t in texts]
    return out


def _ready(versions: list[ModelVersion]) -> None:
    """Raise ModelLoading (after starting the loads) unless every version is loaded here."""
    pending = [v for v in versions if not model_is_loaded(v)]
    for v in pending:
        failed = _failed.pop(v.artifact, None)
        if failed:
            what = "term-relevance model" if v.family == RELEVANCE_FAMILY else "model"
            raise NoLiveModel(f"the live {what} could not be loaded ({failed})")
    for v in pending:
        model_load_start(v)
    if pending:
        names = " and ".join(
            f"{'term-relevance' if v.family == RELEVANCE_FAMILY else 'query-expansion'} "
            f"model (v{v.version})"
            for v in pending
        )
        raise ModelLoading(
            f"the live {names} {'are' if len(pending) > 1 else 'is'} loading on this "
            f"server; try again in {ModelLoading.retry_after_s} seconds"
        )


def expansion_for(
    *,
    project: Project,
    query: str,
    backend: str | None = None,
    k: int = RESULTS,
    threshold: float | None = None,
) -> dict[str, Any]:
    """The live version's expansion of ``query``, guarded, and the results with and
    without it.

    ``query`` must have passed :func:`clean_query`; ``threshold`` (checked by the caller,
    0..1) overrides the project's guard threshold for this answer. Raises NoLiveModel,
    ModelLoading, or BackendUnavailable for a backend this database cannot run.
    """
    from workers.qe.catalog import CatalogEmpty

    version = live_version(project, FAMILY)
    if version is None:
        raise NoLiveModel("no live query-expansion model in this project yet")
    relevance = live_version(project, RELEVANCE_FAMILY)
    threshold = guard_threshold(project) if threshold is None else threshold
    backend = backend or default_backend()
    norm = normalise(query)
    guard_key = f"{relevance.artifact}:{threshold!r}" if relevance is not None else "-"
    digest = hashlib.sha256(f"{version.artifact}\n{guard_key}\n{norm}".encode()).hexdigest()[:40]
    key = f"qe:expand:{backend}:{k}:{digest}"
    hit = cache.get(key)
    if hit is not None:
        return {**hit, "query": query, "cached": True}
    _ready([version] if relevance is None else [version, relevance])
    try:
        engine = engine_for(backend)
    except CatalogEmpty as exc:
        raise NoLiveModel(str(exc)) from None
    terms = expand_terms(version, [norm])[0]
    if relevance is None:
        kept_terms = terms
        kept: list[dict[str, Any]] = [{"term": t, "score": None} for t in terms]
        dropped: list[dict[str, Any]] = []
        note = "no live term-relevance model in this project: added terms are not checked"
    else:
        from workers.qe.ml.reward.guard import guard_terms

        kept_terms, kept_scored, dropped_scored = guard_terms(
            loaded_relevance(relevance), norm, terms, threshold
        )
        kept = [{"term": t, "score": round(p, 3)} for t, p in kept_scored]
        dropped = [{"term": t, "score": round(p, 3)} for t, p in dropped_scored]
        note = ""
    expanded = " ".join([norm, *kept_terms])
    results = products_by_sku(engine.search(expanded, k))
    answer = {
        "version": {"id": version.pk, "number": version.version, "name": version.name},
        "backend": backend,
        "terms": terms,
        "kept": kept,
        "dropped": dropped,
        "guard": {
            "active": relevance is not None,
            "threshold": threshold,
            "version": relevance_version_ref(relevance),
            "note": note,
        },
        "expanded_query": expanded,
        "results": results,
        # What the model's whole expansion would have returned: shown only when the guard
        # changed the search.
        "results_unguarded": (
            products_by_sku(engine.search(" ".join([norm, *terms]), k)) if dropped else results
        ),
        "results_without": products_by_sku(engine.search(norm, k)),
    }
    cache.set(key, answer, CACHE_SECONDS)
    return {**answer, "query": query, "cached": False}


__all__ = [
    "BackendUnavailable",
    "ModelLoading",
    "NoLiveModel",
    "QueryError",
    "clean_query",
    "expansion_for",
    "models_warm",
]
