from rest_framework.routers import SimpleRouter

from merchants.api import MerchantViewSet

app_name = "merchants"

router = SimpleRouter()
router.register("merchants", MerchantViewSet, basename="merchant")

urlpatterns = router.urls
