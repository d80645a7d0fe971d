from django.apps import AppConfig


class PortalConfig(AppConfig):
    """Site composition: the web portal's URL wiring, the admin site and its dashboard, demo data."""

    name = "portal"
    verbose_name = "Portal"
