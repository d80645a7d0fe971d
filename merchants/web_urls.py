"""Merchant portal pages under /merchant/ (namespace `merchant`)."""

from django.urls import path

from merchants import photo_views, promo_views, views

app_name = "merchant"

urlpatterns = [
    path("", views.home, name="home"),
    path("week/", views.week, name="week"),
    path("bookings.csv", views.bookings_csv, name="bookings-csv"),
    path("settings/", views.settings_page, name="settings"),
    path("settings/calendar-feed/", views.calendar_feed_rotate, name="calendar-feed-rotate"),
    path("payouts/", views.payouts, name="payouts"),
    path("payouts/onboarding/", views.payouts_onboarding, name="payouts-onboarding"),
    path("payouts/refresh/", views.payouts_refresh, name="payouts-refresh"),
    path("payouts/return/", views.payouts_return, name="payouts-return"),
    path("payouts/statement.csv", views.payouts_statement_csv, name="payouts-statement-csv"),
    path("promo-codes/", promo_views.promo_code_list, name="promo-codes"),
    path("promo-codes/<int:pk>/active/", promo_views.promo_code_active, name="promo-code-active"),
    path("promo-codes/<int:pk>/edit/", promo_views.promo_code_edit, name="promo-code-edit"),
    path("themes/", views.theme_list, name="theme-list"),
    path("themes/new/", views.theme_create, name="theme-create"),
    path("themes/<int:pk>/edit/", views.theme_edit, name="theme-edit"),
    path("themes/<int:pk>/deactivate/", views.theme_deactivate, name="theme-deactivate"),
    path("themes/<int:pk>/photos/", photo_views.theme_photos, name="theme-photos"),
    path("themes/<int:pk>/photos/<int:photo_id>/alt/", photo_views.photo_alt, name="theme-photo-alt"),
    path("themes/<int:pk>/photos/<int:photo_id>/move/", photo_views.photo_move, name="theme-photo-move"),
    path("themes/<int:pk>/photos/<int:photo_id>/delete/", photo_views.photo_delete, name="theme-photo-delete"),
    path("themes/<int:pk>/slots/", views.slot_list, name="slot-list"),
    path("themes/<int:pk>/slots/add/", views.slot_add, name="slot-add"),
    path("themes/<int:pk>/slots/schedule/", views.slot_schedule, name="slot-schedule"),
    path("slots/<int:pk>/capacity/", views.slot_capacity, name="slot-capacity"),
    path("slots/<int:pk>/cancel/", views.slot_cancel, name="slot-cancel"),
    path("slots/<int:pk>/participants/", views.slot_participants_page, name="slot-participants"),
    path("bookings/<int:pk>/attendance/", views.booking_attendance, name="booking-attendance"),
]
