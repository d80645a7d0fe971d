"""Merchant portal pages under /merchant/ (namespace `merchant`)."""

app_name = "merchant"

urlpatterns: list = []
