"""The ``query_expansion`` item kind: rate each proposed term, prefer one of two models.

An item's payload (what reviewers see) holds the query, the terms to rate (the union of
both models' terms, in the order proposed), and each side's terms and top results plus the
results without expansion. Which model is side "a" or "b" lives in the item's recipe, so
reviewers judge expansions, not version names.

Values: ``{"terms": {"<term>": "relevant" | "drifting"}, "prefer": "a" | "b" | "same"}``:
every shown term rated, no other term, and a preference when there is a side "b".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from labeling.kinds import KindSpec, Marks, Values, register
from labeling.schemas import AnnotationError

if TYPE_CHECKING:
    from labeling.models import Item

TERM_VERDICTS = ("relevant", "drifting")
PREFER = ("a", "b", "same")
MAX_FORM_TERMS = 50


def shown_terms(item: Item) -> list[str]:
    payload = item.payload if isinstance(item.payload, dict) else {}
    terms = payload.get("terms", [])
    return [t for t in terms if isinstance(t, str)] if isinstance(terms, list) else []


def has_pair(item: Item) -> bool:
    return isinstance(item.payload, dict) and isinstance(item.payload.get("b"), dict)


def validate(item: Item, values: Any, marks: Any) -> tuple[Values, Marks]:
    if not isinstance(values, dict):
        raise AnnotationError("values must be an object like {'terms': {...}, 'prefer': 'a'}")
    unknown = set(values) - {"terms", "prefer"}
    if unknown:
        raise AnnotationError(f"unknown fields: {', '.join(sorted(map(str, unknown)))}")
    if marks not in (None, "", []):
        raise AnnotationError("query expansions take no marks")
    terms = values.get("terms")
    if not isinstance(terms, dict):
        raise AnnotationError("'terms' must map each shown term to relevant or drifting")
    shown = shown_terms(item)
    extra = [t for t in terms if t not in shown]
    if extra:
        raise AnnotationError(f"these terms were not shown: {', '.join(map(repr, extra[:5]))}")
    clean_terms: dict[str, str] = {}
    for term in shown:
        verdict = terms.get(term)
        if verdict is None or verdict == "":
            raise AnnotationError(f"rate every term: {term!r} is not rated")
        if verdict not in TERM_VERDICTS:
            raise AnnotationError(f"{term!r} must be rated relevant or drifting (got {verdict!r})")
        clean_terms[term] = verdict
    clean: dict[str, Any] = {"terms": clean_terms}
    prefer = values.get("prefer")
    if has_pair(item):
        if prefer not in PREFER:
            raise AnnotationError("choose the better expansion: a, b or same")
        clean["prefer"] = prefer
    elif prefer not in (None, ""):
        raise AnnotationError("this item has one expansion; there is nothing to prefer")
    return clean, []


def parse_form(form: Mapping[str, Any]) -> tuple[Any, Any]:
    """Form fields: ``term_<i>`` (the term as shown) and ``rate_<i>`` (its verdict)."""
    terms: dict[str, str] = {}
    for i in range(MAX_FORM_TERMS):
        term = form.get(f"term_{i}")
        if term is None:
            break
        terms[term] = form.get(f"rate_{i}", "")
    values: dict[str, Any] = {"terms": terms}
    if form.get("prefer"):
        values["prefer"] = form.get("prefer")
    return values, []


def units(values: Values) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    terms = values.get("terms")
    if isinstance(terms, dict) and terms:
        out["terms"] = {str(t): str(v) for t, v in terms.items()}
    if values.get("prefer"):
        out["prefer"] = {"": str(values["prefer"])}
    return out


def context(item: Item) -> dict[str, Any]:
    payload = item.payload if isinstance(item.payload, dict) else {}
    a = payload.get("a") if isinstance(payload.get("a"), dict) else {}
    b = payload.get("b") if isinstance(payload.get("b"), dict) else None
    a_terms = set(a.get("terms", [])) if a else set()
    b_terms = set(b.get("terms", [])) if b else set()
    rows = [
        {"index": i, "term": t, "in_a": t in a_terms, "in_b": t in b_terms}
        for i, t in enumerate(shown_terms(item))
    ]
    return {
        "qe_query": payload.get("query", ""),
        "qe_rows": rows,
        "qe_a": a,
        "qe_b": b,
        "qe_without": payload.get("results_without", []),
        "qe_verdicts": TERM_VERDICTS,
    }


QUERY_EXPANSION = register(
    KindSpec(
        kind="query_expansion",
        template="qe/_form.html",
        help_template="qe/_keys.html",
        validate=validate,
        parse_form=parse_form,
        units=units,
        context=context,
        script="js/qe.js",
        groups=("terms", "prefer"),
    )
)
