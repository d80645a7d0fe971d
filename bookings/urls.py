from django.urls import path
from rest_framework.routers import SimpleRouter

from bookings.api import AttendanceView, BookingViewSet, SlotJoinView, SlotParticipantsView
from bookings.promo_api import PromoCodeViewSet
from bookings.waitlist_api import SlotWaitlistView, WaitlistViewSet

app_name = "bookings"

router = SimpleRouter()
router.register("bookings", BookingViewSet, basename="booking")
router.register("waitlist", WaitlistViewSet, basename="waitlist")
router.register("promo-codes", PromoCodeViewSet, basename="promo-code")

urlpatterns = [
    path("slots/<int:slot_id>/join/", SlotJoinView.as_view(), name="slot-join"),
    path("slots/<int:slot_id>/participants/", SlotParticipantsView.as_view(), name="slot-participants"),
    path("slots/<int:slot_id>/waitlist/", SlotWaitlistView.as_view(), name="slot-waitlist"),
    path("attendance/", AttendanceView.as_view(), name="attendance"),
    *router.urls,
]
