"""Merchant portal pages under /merchant/ (namespace `merchant`)."""

from django.urls import path

from merchants import views

app_name = "merchant"

urlpatterns = [
    path("", views.home, name="home"),
    path("week/", views.week, name="week"),
    path("settings/", views.settings_page, name="settings"),
    path("payouts/", views.payouts, name="payouts"),
    path("payouts/onboarding/", views.payouts_onboarding, name="payouts-onboarding"),
    path("payouts/refresh/", views.payouts_refresh, name="payouts-refresh"),
    path("payouts/return/", views.payouts_return, name="payouts-return"),
    path("payouts/statement.csv", views.payouts_statement_csv, name="payouts-statement-csv"),
    path("themes/", views.theme_list, name="theme-list"),
    path("themes/new/", views.theme_create, name="theme-create"),
    path("themes/<int:pk>/edit/", views.theme_edit, name="theme-edit"),
    path("themes/<int:pk>/deactivate/", views.theme_deactivate, name="theme-deactivate"),
    path("themes/<int:pk>/slots/", views.slot_list, name="slot-list"),
    path("themes/<int:pk>/slots/add/", views.slot_add, name="slot-add"),
    path("themes/<int:pk>/slots/schedule/", views.slot_schedule, name="slot-schedule"),
    path("slots/<int:pk>/capacity/", views.slot_capacity, name="slot-capacity"),
    path("slots/<int:pk>/cancel/", views.slot_cancel, name="slot-cancel"),
    path("slots/<int:pk>/participants/", views.slot_participants_page, name="slot-participants"),
    path("bookings/<int:pk>/attendance/", views.booking_attendance, name="booking-attendance"),
]
