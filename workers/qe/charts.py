"""The reward components of an RL run over its training, as a small server-side SVG.

Only numbers and the component names of ``workers.qe.ml.reward.DEFAULT_WEIGHTS`` (fixed in code) go
into the text, so it is built as a string and marked safe, as in ``rewards.charts``.
"""

from __future__ import annotations

from typing import Any

from django.utils.safestring import SafeString, mark_safe

W, H, PAD = 520, 200, 34
COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#555")


def reward_svg(curve: list[dict[str, Any]], names: list[str]) -> SafeString:
    """Weighted components (``reward/<name>``) and the total reward per logged step."""
    from workers.qe.ml.reward import DEFAULT_WEIGHTS

    names = [n for n in names if n in DEFAULT_WEIGHTS]
    keys = [f"reward/{n}" for n in names] + ["reward"]
    points = [p for p in curve if isinstance(p, dict) and "reward" in p]
    if len(points) < 2:
        return mark_safe('<p class="hint">Too few logged steps to draw.</p>')
    values = [float(p[k]) for p in points for k in keys if k in p]
    lo, hi = min([*values, 0.0]), max([*values, 0.0])
    span = (hi - lo) or 1.0

    def xy(i: int, v: float) -> str:
        x = PAD + i / (len(points) - 1) * (W - 2 * PAD)
        y = H - PAD - (v - lo) / span * (H - 2 * PAD)
        return f"{x:.1f},{y:.1f}"

    parts = [
        f'<svg class="chart" viewBox="0 0 {W} {H}" role="img" '
        'aria-label="Reward components over RL training">',
        f'<rect x="{PAD}" y="{PAD}" width="{W - 2 * PAD}" height="{H - 2 * PAD}" '
        'fill="none" stroke="#ccc"/>',
    ]
    zero = H - PAD - (0 - lo) / span * (H - 2 * PAD)
    parts.append(f'<line x1="{PAD}" x2="{W - PAD}" y1="{zero:.1f}" y2="{zero:.1f}" stroke="#ddd"/>')
    for j, key in enumerate(keys):
        color = COLORS[j % len(COLORS)] if key != "reward" else "#000"
        pts = " ".join(xy(i, float(p[key])) for i, p in enumerate(points) if key in p)
        width = 2.5 if key == "reward" else 1.5
        parts.append(
            f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="{width}"/>'
        )
        label = key.removeprefix("reward/")
        parts.append(
            f'<text x="{PAD + 4 + 95 * (j % 5)}" y="{14 + 12 * (j // 5)}" font-size="11" '
            f'fill="{color}">{label}</text>'
        )
    parts.append(f'<text x="2" y="{PAD + 4}" font-size="10">{hi:.2f}</text>')
    parts.append(f'<text x="2" y="{H - PAD + 4}" font-size="10">{lo:.2f}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))
