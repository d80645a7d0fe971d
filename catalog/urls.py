from rest_framework.routers import SimpleRouter

from catalog.api import SlotViewSet, ThemeViewSet

app_name = "catalog"

router = SimpleRouter()
router.register("themes", ThemeViewSet, basename="theme")
router.register("slots", SlotViewSet, basename="slot")

urlpatterns = router.urls
