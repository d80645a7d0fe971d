"""Photos for the demo themes, drawn with Pillow when `seed_demo` runs: no image files shipped, nothing to license.

Each picture is a colour gradient with a few shapes and the theme's title: clearly
an illustration (its alt text says so), deterministic for a title, small enough
(960 × 640) that the whole demo's photos are drawn and stored in about a second.
They are uploaded through `catalog.photos.theme_photo_add`, the same checks and
renditions as a merchant's upload.
"""

from __future__ import annotations

import random
from io import BytesIO

from PIL import Image, ImageDraw, ImageFont, ImageOps

from catalog.models import Theme, ThemePhoto
from catalog.photos import theme_photo_add

SIZE = (960, 640)
# (dark, light) pairs: gradients that keep white text legible.
PALETTES = (
    ((38, 24, 71), (214, 120, 74)),
    ((12, 52, 61), (102, 190, 170)),
    ((70, 20, 30), (240, 180, 90)),
    ((20, 35, 80), (120, 170, 240)),
    ((40, 50, 20), (200, 210, 110)),
)
VIEWS = ("the room", "the details", "the team at work")


def demo_image(title: str, variant: int = 0) -> bytes:
    """A JPEG illustration for `title` (variant 0, 1, 2: other colours and shapes)."""
    rng = random.Random(f"{title}:{variant}")
    dark, light = PALETTES[rng.randrange(len(PALETTES))]
    gradient = Image.linear_gradient("L").rotate(rng.choice((0, 45, 90, 135)), expand=False).resize(SIZE)
    image = ImageOps.colorize(gradient, black=dark, white=light).convert("RGB")
    draw = ImageDraw.Draw(image, "RGBA")
    for _ in range(7):
        x, y = rng.randrange(SIZE[0]), rng.randrange(SIZE[1])
        r = rng.randrange(40, 180)
        fill = (*light, rng.randrange(50, 120)) if rng.random() < 0.5 else (255, 255, 255, rng.randrange(30, 80))
        if rng.random() < 0.5:
            draw.ellipse((x - r, y - r, x + r, y + r), fill=fill)
        else:
            draw.rectangle((x - r, y - r // 2, x + r, y + r // 2), fill=fill)
    draw.rectangle((0, SIZE[1] - 150, SIZE[0], SIZE[1]), fill=(*dark, 190))
    font = ImageFont.load_default(size=54)
    draw.text((40, SIZE[1] - 120), title, fill=(255, 255, 255), font=font)
    small = ImageFont.load_default(size=28)
    draw.text((40, SIZE[1] - 52), f"BookWise demo · {VIEWS[variant % len(VIEWS)]}", fill=(235, 235, 235), font=small)
    out = BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def add_demo_photos(theme: Theme, count: int) -> list[ThemePhoto]:
    """`count` (1-3) drawn photos for a demo theme, uploaded like a merchant's."""
    added = []
    for variant in range(count):
        view = VIEWS[variant % len(VIEWS)]
        added.append(
            theme_photo_add(
                theme=theme,
                file=BytesIO(demo_image(theme.title, variant)),
                alt_text=f"Illustration for {theme.title} ({view}): coloured shapes on a gradient with its title",
            )
        )
    return added
