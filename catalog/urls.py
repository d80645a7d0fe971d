from django.urls import path
from rest_framework.routers import SimpleRouter

from catalog.api import SlotViewSet, ThemeViewSet
from catalog.photo_api import ThemePhotoDetailView, ThemePhotoListView, ThemePhotoOrderView

app_name = "catalog"

router = SimpleRouter()
router.register("themes", ThemeViewSet, basename="theme")
router.register("slots", SlotViewSet, basename="slot")

urlpatterns = [
    path("themes/<int:theme_id>/photos/", ThemePhotoListView.as_view(), name="theme-photos"),
    path("themes/<int:theme_id>/photos/order/", ThemePhotoOrderView.as_view(), name="theme-photos-order"),
    path("themes/<int:theme_id>/photos/<int:photo_id>/", ThemePhotoDetailView.as_view(), name="theme-photo"),
    *router.urls,
]
