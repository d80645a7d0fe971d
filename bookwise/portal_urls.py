"""Customer-facing pages (namespace `portal`). Views live in each app's views.py."""

app_name = "portal"

urlpatterns: list = []
