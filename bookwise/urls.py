from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from bookwise.health import HealthView
from bookwise.media import media_urlpatterns


class FaviconRedirect(RedirectView):
    """Browsers ask for /favicon.ico whatever the page links: send them to the static SVG (its hashed name)."""

    http_method_names = ["get", "head"]

    def get_redirect_url(self, *args, **kwargs) -> str:
        return static("favicon.svg")


api_v1 = [
    path("health/", HealthView.as_view(), name="health"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # GET only: DRF's OPTIONS metadata cannot be rendered by the HTML-only Swagger view (it was a 500).
    # Our template: drf-spectacular's has an inline <style> and <script>, which the CSP refuses.
    path(
        "docs/",
        SpectacularSwaggerView.as_view(
            url_name="schema", template_name="api/swagger_ui.html", http_method_names=["get", "head"]
        ),
        name="docs",
    ),
    path("", include("accounts.urls")),
    path("", include("merchants.urls")),
    path("", include("catalog.urls")),
    path("", include("bookings.urls")),
    path("", include("reviews.urls")),
    path("", include("payments.urls")),
]

handler404 = "bookwise.errors.not_found"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("favicon.ico", FaviconRedirect.as_view(), name="favicon"),
    path("api/v1/", include(api_v1)),
    # Our subclass of dj-stripe's webhook view (503 when Stripe is unreachable), ahead of dj-stripe's route.
    path("stripe/", include("payments.webhook_urls")),
    path("stripe/", include("djstripe.urls", namespace="djstripe")),
    path("merchant/", include("merchants.web_urls")),
    # Uploaded photos, when they are on this server's disk (no bucket): bookwise/media.py.
    *media_urlpatterns(),
    # The booking widget's pages, framed by merchants' own sites (static/js/widget.js).
    path("embed/", include("portal.embed_urls")),
    path("", include("portal.urls")),
]
