from django.urls import path

from accounts import api

app_name = "accounts"

urlpatterns = [
    path("auth/register/", api.RegisterView.as_view(), name="register"),
    path("auth/token/", api.TokenObtainView.as_view(), name="token"),
    path("auth/token/refresh/", api.TokenRefreshView.as_view(), name="token-refresh"),
    path("auth/logout/", api.LogoutView.as_view(), name="logout"),
    path("users/me/", api.MeView.as_view(), name="me"),
]
