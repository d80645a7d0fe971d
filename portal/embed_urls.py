"""The booking widget's pages (namespace `embed`), framed by merchants' sites: portal/embed_views.py."""

from django.urls import path

from portal import embed_views

app_name = "embed"

urlpatterns = [
    path("themes/<int:theme_id>/", embed_views.times, name="times"),
    path("themes/<int:theme_id>/book/", embed_views.book, name="book"),
    path("themes/<int:theme_id>/login/", embed_views.login, name="login"),
    path("themes/<int:theme_id>/register/", embed_views.register, name="register"),
    path("themes/<int:theme_id>/bookings/<int:pk>/", embed_views.result, name="result"),
    path("themes/<int:theme_id>/bookings/<int:pk>/checkout/", embed_views.checkout, name="checkout"),
]
