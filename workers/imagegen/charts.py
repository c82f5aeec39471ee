"""Server-side SVG charts of the generator pages, in the house style of rewards/charts.py.

Everything drawn is a number computed here and formatted numerically, so the SVG is built
as text and marked safe; no user-supplied text goes into it.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.safestring import SafeString, mark_safe

W, H, PAD = 560, 300, 44
RAW, SMOOTH, CRITICAL, REMOVED = "#98a2b3", "#2f6fed", "#1e8e3e", "#c0392b"


def _scale(lo: float, hi: float) -> tuple[float, float]:
    if hi - lo < 1e-9:
        return lo - 0.5, hi + 0.5
    pad = (hi - lo) * 0.08
    return lo - pad, hi + pad


def pruning_svg(
    influence: Sequence[float],
    smoothed: Sequence[float],
    critical: Sequence[int],
    removed: Sequence[int],
) -> SafeString:
    """Block Influence over depth (grey), its FFT-smoothed form (blue), the RDP critical
    points (green dots: blocks that stay for the curve's shape) and the removed blocks
    (red crosses)."""
    n = len(influence)
    if n < 2:
        return mark_safe('<p class="hint">No influence curve stored.</p>')
    lo, hi = _scale(min(min(influence), min(smoothed)), max(max(influence), max(smoothed)))

    def x(i: float) -> float:
        return PAD + i / (n - 1) * (W - 2 * PAD)

    def y(v: float) -> float:
        return H - PAD - (float(v) - lo) / (hi - lo) * (H - 2 * PAD)

    def line(values: Sequence[float]) -> str:
        return " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))

    parts = [
        f'<svg class="chart" viewBox="0 0 {W} {H}" role="img" '
        'aria-label="Block Influence over depth, FFT-smoothed, with RDP points">',
        f'<rect x="{PAD}" y="{PAD}" width="{W - 2 * PAD}" height="{H - 2 * PAD}" class="frame"/>',
        f'<polyline points="{line(influence)}" stroke="{RAW}" stroke-dasharray="3 3"/>',
        f'<polyline points="{line(smoothed)}" stroke="{SMOOTH}"/>',
    ]
    for i, v in enumerate(influence):
        parts.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="2.5" fill="{RAW}"/>')
    for i in critical:
        parts.append(
            f'<circle cx="{x(i):.1f}" cy="{y(smoothed[i]):.1f}" r="6" fill="none" '
            f'stroke="{CRITICAL}" stroke-width="2.5"/>'
        )
    for i in removed:
        cx, cy = x(i), y(smoothed[i])
        parts.append(
            f'<path d="M{cx - 6:.1f},{cy - 6:.1f} L{cx + 6:.1f},{cy + 6:.1f} '
            f'M{cx - 6:.1f},{cy + 6:.1f} L{cx + 6:.1f},{cy - 6:.1f}" stroke="{REMOVED}" '
            'stroke-width="2.5"/>'
        )
    for i in range(n):
        parts.append(f'<text x="{x(i) - 3:.1f}" y="{H - PAD + 16}" class="tick">{i}</text>')
    for v in (lo, (lo + hi) / 2, hi):
        parts.append(f'<text x="2" y="{y(v) + 4:.1f}" class="tick">{v:.4g}</text>')
    parts.append(
        f'<text x="{W / 2}" y="{H - 6}" class="lbl" text-anchor="middle">block (depth)</text></svg>'
    )
    parts.append(
        f'<p class="legend"><span style="color:{RAW}">- -</span> Block Influence (1 − cos) '
        f'<span style="color:{SMOOTH}">—</span> FFT-smoothed '
        f'<span style="color:{CRITICAL}">○</span> RDP critical point (kept) '
        f'<span style="color:{REMOVED}">×</span> removed</p>'
    )
    return mark_safe("".join(parts))


def curve_svg(values: Sequence[float], label: str, color: str = SMOOTH) -> SafeString:
    """A per-step curve (RL reward, training loss). ``label`` is one of our own fixed
    strings, never user text."""
    vals = [float(v) for v in values if v is not None]
    if len(vals) < 2:
        return mark_safe("")
    lo, hi = _scale(min(vals), max(vals))
    n = len(vals)

    def x(i: int) -> float:
        return PAD + i / (n - 1) * (W - 2 * PAD)

    def y(v: float) -> float:
        return H - PAD - (v - lo) / (hi - lo) * (H - 2 * PAD)

    pts = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(vals))
    parts = [
        f'<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-label="{label}">',
        f'<rect x="{PAD}" y="{PAD}" width="{W - 2 * PAD}" height="{H - 2 * PAD}" class="frame"/>',
        f'<polyline points="{pts}" stroke="{color}"/>',
    ]
    for v in (lo, (lo + hi) / 2, hi):
        parts.append(f'<text x="2" y="{y(v) + 4:.1f}" class="tick">{v:.4g}</text>')
    parts.append(f'<text x="{PAD}" y="{H - PAD + 16}" class="tick">1</text>')
    parts.append(f'<text x="{W - PAD - 10}" y="{H - PAD + 16}" class="tick">{n}</text>')
    parts.append(
        f'<text x="{W / 2}" y="{H - 6}" class="lbl" text-anchor="middle">{label}</text></svg>'
    )
    return mark_safe("".join(parts))
