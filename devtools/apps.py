from django.apps import AppConfig


class DevtoolsConfig(AppConfig):
    """Installed in development only (bookwise/settings.py): provides `manage.py load_scale_data`."""

    name = "devtools"
    verbose_name = "Development tools"
