"""`{% photo_img photo sizes="..." %}`: a theme photo as a responsive, accessible <img>.

`srcset` lists every stored rendition and the cleaned original with their
widths (catalog.photos), so the browser picks the smallest file that fills
`sizes`; width and height are the chosen `src`'s, which reserves the space
(no layout shift); the merchant's alt text describes it.
"""

from __future__ import annotations

from django import template
from django.utils.html import format_html

from catalog import photos
from catalog.models import ThemePhoto

register = template.Library()


@register.simple_tag
def photo_img(
    photo: ThemePhoto,
    sizes: str = "100vw",
    loading: str = "lazy",
    rendition: str = "medium",
    css_class: str = "",
) -> str:
    width, height = photos.photo_size_for(photo, name=rendition)
    return format_html(
        '<img src="{}" srcset="{}" sizes="{}" width="{}" height="{}" alt="{}" loading="{}" decoding="async"{}>',
        photos.photo_src(photo, name=rendition),
        photos.photo_srcset(photo),
        sizes,
        width,
        height,
        photo.alt_text,
        "eager" if loading == "eager" else "lazy",
        format_html(' class="{}"', css_class) if css_class else "",
    )
