from django.urls import path
from rest_framework.routers import SimpleRouter

from reviews.api import ReviewViewSet, ThemeReviewListView

app_name = "reviews"

router = SimpleRouter()
router.register("reviews", ReviewViewSet, basename="review")

urlpatterns = [
    path("themes/<int:theme_id>/reviews/", ThemeReviewListView.as_view(), name="theme-reviews"),
    *router.urls,
]
