"""Small server-side SVG charts (no JavaScript charting library to ship)."""

from __future__ import annotations

from typing import Any

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

W, H, PAD = 520, 300, 42


def _x(share: float) -> float:
    return PAD + share * (W - 2 * PAD)


def _y(rate: float, lo: float) -> float:
    return H - PAD - (rate - lo) / (1 - lo) * (H - 2 * PAD)


def tradeoff_svg(curve: list[dict[str, Any]], target: float, launch: float | None) -> SafeString:
    """Usable rate among launched (and its lower confidence bound) against the share
    launched, with the target line and the point where the gate sits."""
    if not curve:
        return mark_safe('<p class="hint">No calibration yet: train models on enough labels.</p>')
    lo = max(0.0, min(min(p["lower_bound"] for p in curve), target) - 0.02)
    lo = round(lo, 2)

    def path(key: str) -> str:
        pts = sorted(curve, key=lambda p: p["share"])
        return " ".join(f"{_x(p['share']):.1f},{_y(p[key], lo):.1f}" for p in pts)

    gate = next((p for p in curve if launch is not None and p["threshold"] == launch), None)
    marker = (
        format_html(
            '<circle cx="{:.1f}" cy="{:.1f}" r="6" class="gate"/>'
            '<text x="{:.1f}" y="{:.1f}" class="lbl">gate: {:.0%} launched</text>',
            _x(gate["share"]),
            _y(gate["lower_bound"], lo),
            _x(gate["share"]) + 8,
            _y(gate["lower_bound"], lo) - 8,
            gate["share"],
        )
        if gate
        else ""
    )
    ticks = format_html_join(
        "",
        '<text x="{:.1f}" y="{:.1f}" class="tick">{}</text>',
        [(_x(s) - 8, H - PAD + 16, f"{s:.0%}") for s in (0, 0.25, 0.5, 0.75, 1.0)]
        + [(4, _y(r, lo) + 4, f"{r:.0%}") for r in (lo, (lo + 1) / 2, 1.0)],
    )
    return format_html(
        '<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-label="Usable rate among '
        'launched images against the share launched">'
        '<rect x="{p}" y="{p}" width="{iw}" height="{ih}" class="frame"/>'
        '<line x1="{p}" x2="{x2}" y1="{ty:.1f}" y2="{ty:.1f}" class="target"/>'
        '<text x="{x2}" y="{tl:.1f}" class="lbl" text-anchor="end">target {t:.0%}</text>'
        '<polyline points="{rate}" class="rate"/><polyline points="{low}" class="low"/>'
        "{marker}{ticks}"
        '<text x="{cx}" y="{bh}" class="lbl" text-anchor="middle">share of images launched</text>'
        "</svg>"
        '<p class="legend"><span class="rate">—</span> usable rate among launched (held-out) '
        '<span class="low">—</span> its lower confidence bound</p>',
        w=W,
        h=H,
        p=PAD,
        iw=W - 2 * PAD,
        ih=H - 2 * PAD,
        x2=W - PAD,
        ty=_y(target, lo),
        tl=_y(target, lo) - 5,
        t=target,
        rate=path("usable_rate"),
        low=path("lower_bound"),
        marker=marker,
        ticks=ticks,
        cx=W / 2,
        bh=H - 6,
    )
