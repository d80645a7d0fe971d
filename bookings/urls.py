from django.urls import path
from rest_framework.routers import SimpleRouter

from bookings.api import AttendanceView, BookingViewSet, SlotJoinView, SlotParticipantsView

app_name = "bookings"

router = SimpleRouter()
router.register("bookings", BookingViewSet, basename="booking")

urlpatterns = [
    path("slots/<int:slot_id>/join/", SlotJoinView.as_view(), name="slot-join"),
    path("slots/<int:slot_id>/participants/", SlotParticipantsView.as_view(), name="slot-participants"),
    path("attendance/", AttendanceView.as_view(), name="attendance"),
    *router.urls,
]
