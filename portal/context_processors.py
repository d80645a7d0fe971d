"""Template context of the site: `embed`, set on the booking widget's pages (portal/embed_views.py), else None.

Templates shared with the portal (the checkout) extend templates/embed/base.html
and show the widget's buttons when it is set.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


def embed(request: HttpRequest) -> dict[str, Any]:
    return {"embed": getattr(request, "embed", None)}
