"""Draw the PWA icons (a white safety helmet with a tick on the brand blue) with Pillow.

    uv run python scripts/make_icons.py        # writes pwa/static/icons/*.png

Icons: ``icon-192.png`` and ``icon-512.png`` (purpose "any": rounded square, transparent corners),
``maskable-192.png`` / ``maskable-512.png`` (purpose "maskable": full-bleed background, the drawing
inside the central 80 % safe zone), ``apple-touch-icon.png`` (180, opaque) and ``icon-32.png``.
Drawn at 4× and scaled down for smooth edges.  Deterministic: the same bytes every run.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageDraw

BRAND = (11, 107, 203, 255)  # --brand of app.css
WHITE = (255, 255, 255, 255)
ORANGE = (247, 144, 9, 255)
OUT = Path(__file__).resolve().parent.parent / "pwa" / "static" / "icons"


def _helmet(draw: ImageDraw.ImageDraw, cx: float, cy: float, s: float) -> None:
    """A helmet centred on (cx, cy), ``s`` = its overall width."""
    w = s
    dome_h = 0.62 * w
    top = cy - 0.54 * w  # the drawing spans top … top + 1.08 w: centred on cy
    # dome (upper half of an ellipse), ridge and brim
    draw.pieslice((cx - 0.4 * w, top, cx + 0.4 * w, top + 2 * dome_h * 0.9), 180, 360, fill=WHITE)
    draw.rounded_rectangle((cx - 0.05 * w, top - 0.02 * w, cx + 0.05 * w, top + 0.5 * w), radius=0.03 * w,
                           fill=BRAND)
    brim_y = top + dome_h * 0.9
    draw.rounded_rectangle((cx - 0.5 * w, brim_y - 0.02 * w, cx + 0.5 * w, brim_y + 0.1 * w), radius=0.05 * w,
                           fill=WHITE)
    # tick badge below the brim
    r = 0.2 * w
    bx, by = cx + 0.22 * w, brim_y + 0.32 * w
    draw.ellipse((bx - r, by - r, bx + r, by + r), fill=ORANGE, outline=WHITE, width=max(1, round(0.035 * w)))
    lw = max(1, round(0.06 * w))
    draw.line([(bx - 0.1 * w, by), (bx - 0.02 * w, by + 0.08 * w), (bx + 0.11 * w, by - 0.08 * w)], fill=WHITE,
              width=lw, joint="curve")


def draw_icon(size: int, *, maskable: bool = False, opaque: bool = False) -> Image.Image:
    k = 4
    big = size * k
    im = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    if maskable or opaque:
        d.rectangle((0, 0, big, big), fill=BRAND)
        scale = 0.62 if maskable else 0.72  # maskable: inside the 80 % safe circle
    else:
        d.rounded_rectangle((0, 0, big - 1, big - 1), radius=0.2 * big, fill=BRAND)
        scale = 0.72
    _helmet(d, big / 2, big / 2, scale * big)
    im = im.resize((size, size), Image.Resampling.LANCZOS)
    return im.convert("RGB") if (maskable or opaque) else im


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    plan = {
        "icon-32.png": draw_icon(32),
        "icon-192.png": draw_icon(192),
        "icon-512.png": draw_icon(512),
        "maskable-192.png": draw_icon(192, maskable=True),
        "maskable-512.png": draw_icon(512, maskable=True),
        "apple-touch-icon.png": draw_icon(180, opaque=True),
    }
    for name, im in plan.items():
        path = args.out / name
        im.save(path, "PNG", optimize=True)
        print(f"{path}  {im.size[0]}×{im.size[1]}  {path.stat().st_size} B")


if __name__ == "__main__":
    main()
