"""Serving the live query-expansion model: clean the query, expand, search, cache.

The model of a version is loaded once per process (a small LRU of versions), and each
answer is cached in the Django cache under the version and the normalised query, so a new
live version is never answered from the old one's cache.

A request never waits for a model to load (importing torch and transformers and reading
the weights takes many seconds on a cold process): the first request for a version starts
the load in a background thread and is answered "loading, retry" (``ModelLoading``, a 503
with Retry-After). Web workers also load every live version when they start
(``models_warm``, from the gunicorn hook in ``jdreview/gunicorn_conf.py``).
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import unicodedata
from collections import OrderedDict
from typing import Any

from django.core.cache import cache

from jdreview.models import Project
from workers.models import ModelVersion
from workers.qe.apps import FAMILY
from workers.qe.search import BackendUnavailable, default_backend, engine_for, products_by_sku
from workers.versions import artifact_path, live_version

MAX_QUERY_CHARS = 200
CACHE_SECONDS = 3600
RESULTS = 10
LOADED_VERSIONS = 2


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
        loaded_model(version)
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
    versions = ModelVersion.objects.filter(family=FAMILY, status=ModelVersion.Status.LIVE)
    count = 0
    for version in versions:
        model_load_start(version)
        count += 1
    return count


def loaded_model(version: ModelVersion) -> tuple[Any, Any]:
    """(model, tokenizer) of a version, loaded from its artifact once per process.

    This blocks while it loads: jobs and tests call it; requests go through
    :func:`expansion_for`, which does not wait.
    """
    from workers.qe.ml.model import load

    with _lock:
        if version.artifact in _loaded:
            _loaded.move_to_end(version.artifact)
            return _loaded[version.artifact]
    model, tok = load(artifact_path(version))
    model.eval()
    with _lock:
        _loaded[version.artifact] = (model, tok)
        while len(_loaded) > LOADED_VERSIONS:
            _loaded.popitem(last=False)
    return model, tok


def expand_terms(version: ModelVersion, queries: list[str]) -> list[list[str]]:
    """Greedy expansion terms of a version for each query (deterministic)."""
    from workers.qe.ml.model import generate, parse_expansion

    model, tok = loaded_model(version)
    out: list[list[str]] = []
    for i in range(0, len(queries), 64):
        _, _, texts = generate(model, tok, queries[i : i + 64], 16)
        out += [list(dict.fromkeys(parse_expansion(t))) for t in texts]
    return out


def expansion_for(
    *, project: Project, query: str, backend: str | None = None, k: int = RESULTS
) -> dict[str, Any]:
    """The live version's expansion of ``query`` and the results with and without it.

    ``query`` must have passed :func:`clean_query`. Raises NoLiveModel, or
    BackendUnavailable for a backend this database cannot run.
    """
    from workers.qe.catalog import CatalogEmpty

    version = live_version(project, FAMILY)
    if version is None:
        raise NoLiveModel("no live query-expansion model in this project yet")
    backend = backend or default_backend()
    norm = normalise(query)
    digest = hashlib.sha256(f"{version.artifact}\n{norm}".encode()).hexdigest()[:40]
    key = f"qe:expand:{backend}:{k}:{digest}"
    hit = cache.get(key)
    if hit is not None:
        return {**hit, "query": query, "cached": True}
    if not model_is_loaded(version):
        failed = _failed.pop(version.artifact, None)
        if failed:
            raise NoLiveModel(f"the live model could not be loaded ({failed})")
        model_load_start(version)
        raise ModelLoading(
            f"the live model (v{version.version}) is loading on this server; "
            f"try again in {ModelLoading.retry_after_s} seconds"
        )
    try:
        engine = engine_for(backend)
    except CatalogEmpty as exc:
        raise NoLiveModel(str(exc)) from None
    terms = expand_terms(version, [norm])[0]
    expanded = " ".join([norm, *terms])
    answer = {
        "version": {"id": version.pk, "number": version.version, "name": version.name},
        "backend": backend,
        "terms": terms,
        "expanded_query": expanded,
        "results": products_by_sku(engine.search(expanded, k)),
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
