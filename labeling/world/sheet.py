"""A contact sheet of composed ads, each captioned with its ground truth (for eyeballing)."""

from __future__ import annotations

from collections.abc import Iterable

from PIL import Image, ImageDraw

from labeling.world.composer import ComposedAd


def caption(truth: dict) -> str:
    parts = [
        f"{t['defect']} {t['severity']:.2f}" for t in truth.values() if t["defect"] is not None
    ]
    return ", ".join(parts) or "ok"


def contact_sheet(ads: Iterable[ComposedAd], cols: int = 6, thumb: int = 160) -> Image.Image:
    ads = list(ads)
    rows = (len(ads) + cols - 1) // cols
    cell_h = thumb + 14
    sheet = Image.new("RGB", (cols * thumb, rows * cell_h), "white")
    draw = ImageDraw.Draw(sheet)
    for i, ad in enumerate(ads):
        x, y = (i % cols) * thumb, (i // cols) * cell_h
        sheet.paste(ad.image.resize((thumb, thumb), Image.Resampling.BILINEAR), (x, y))
        draw.text((x + 2, y + thumb + 1), caption(ad.truth), fill="black")
    return sheet
