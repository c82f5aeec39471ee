"""Small server-side SVG charts (no JavaScript charting library to ship).

Everything drawn is a number computed here, formatted with a numeric format, so the SVG
is built as text and marked safe; no user-supplied text goes into it.
"""

from __future__ import annotations

from typing import Any

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
        return mark_safe(
            '<p class="hint">No trade-off curve yet: the held-out set is too small to prove '
            "the target, so nothing launches. Label more images and retrain.</p>"
        )
    lo = round(max(0.0, min(min(float(p["lower_bound"]) for p in curve), target) - 0.02), 2)
    pts = sorted(curve, key=lambda p: float(p["share"]))

    def path(key: str) -> str:
        return " ".join(f"{_x(float(p['share'])):.1f},{_y(float(p[key]), lo):.1f}" for p in pts)

    parts = [
        f'<svg class="chart" viewBox="0 0 {W} {H}" role="img" '
        'aria-label="Usable rate among launched images against the share launched">',
        f'<rect x="{PAD}" y="{PAD}" width="{W - 2 * PAD}" height="{H - 2 * PAD}" class="frame"/>',
        f'<line x1="{PAD}" x2="{W - PAD}" y1="{_y(target, lo):.1f}" y2="{_y(target, lo):.1f}" '
        'class="target"/>',
        f'<text x="{W - PAD}" y="{_y(target, lo) - 5:.1f}" class="lbl" text-anchor="end">'
        f"target {target:.0%}</text>",
        f'<polyline points="{path("usable_rate")}" class="rate"/>',
        f'<polyline points="{path("lower_bound")}" class="low"/>',
    ]
    gate = next((p for p in curve if launch is not None and p["threshold"] == launch), None)
    if gate is not None:
        gx, gy = _x(float(gate["share"])), _y(float(gate["lower_bound"]), lo)
        parts.append(f'<circle cx="{gx:.1f}" cy="{gy:.1f}" r="6" class="gate"/>')
        parts.append(
            f'<text x="{gx + 8:.1f}" y="{gy - 8:.1f}" class="lbl">gate: '
            f"{float(gate['share']):.0%} launched</text>"
        )
    for s in (0, 0.25, 0.5, 0.75, 1.0):
        parts.append(f'<text x="{_x(s) - 8:.1f}" y="{H - PAD + 16}" class="tick">{s:.0%}</text>')
    for r in (lo, (lo + 1) / 2, 1.0):
        parts.append(f'<text x="4" y="{_y(r, lo) + 4:.1f}" class="tick">{r:.0%}</text>')
    parts.append(
        f'<text x="{W / 2}" y="{H - 6}" class="lbl" text-anchor="middle">'
        "share of images launched</text></svg>"
    )
    parts.append(
        '<p class="legend"><span class="rate">—</span> usable rate among launched '
        '(held-out) <span class="low">—</span> its lower confidence bound</p>'
    )
    return mark_safe("".join(parts))
