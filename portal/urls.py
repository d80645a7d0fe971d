"""Customer-facing pages (namespace `portal`). Views live in each app's views.py."""

from django.urls import path, re_path

from accounts import views as account_views
from bookings import feed_views
from bookings import views as booking_views
from catalog import views as catalog_views
from reviews import views as review_views

app_name = "portal"

urlpatterns = [
    path("", catalog_views.catalog, name="catalog"),
    path("themes/<int:pk>/", catalog_views.theme_detail, name="theme-detail"),
    path("themes/<int:pk>/book/", catalog_views.theme_book, name="theme-book"),
    path("themes/<int:pk>/waitlist/", booking_views.theme_waitlist_join, name="theme-waitlist"),
    path("waitlist/<int:pk>/leave/", booking_views.waitlist_leave_view, name="waitlist-leave"),
    path("themes/<int:pk>/review/", review_views.review_edit, name="review"),
    path("bookings/", booking_views.my_bookings, name="my-bookings"),
    path("bookings/<int:pk>/checkout/", booking_views.checkout, name="checkout"),
    path("bookings/<int:pk>/pay/", booking_views.booking_pay, name="booking-pay"),
    path("bookings/<int:pk>/status/", booking_views.booking_status, name="booking-status"),
    path("bookings/<int:pk>/cancel/", booking_views.booking_cancel, name="booking-cancel"),
    path("bookings/<int:pk>/reschedule/", booking_views.booking_reschedule, name="booking-reschedule"),
    # Calendar feeds: public URLs whose secret token is the credential (bookings/feed_views.py).
    path("bookings/calendar-feed/", feed_views.customer_calendar_feed_rotate, name="calendar-feed-rotate"),
    re_path(
        r"^feeds/merchants/(?P<token>[A-Za-z0-9_-]{1,64})\.ics$",
        feed_views.merchant_calendar_feed,
        name="merchant-calendar-feed",
    ),
    re_path(
        r"^feeds/customers/(?P<token>[A-Za-z0-9_-]{1,64})\.ics$",
        feed_views.customer_calendar_feed,
        name="customer-calendar-feed",
    ),
    path("accounts/", account_views.account, name="account"),
    path("accounts/register/", account_views.register, name="register"),
    path("accounts/login/", account_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", account_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/change/", account_views.PasswordChangeView.as_view(), name="password-change"),
    path(
        "accounts/password/change/done/",
        account_views.PasswordChangeDoneView.as_view(),
        name="password-change-done",
    ),
    path("accounts/password/reset/", account_views.PasswordResetView.as_view(), name="password-reset"),
    path(
        "accounts/password/reset/done/",
        account_views.PasswordResetDoneView.as_view(),
        name="password-reset-done",
    ),
    path(
        "accounts/password/reset/<uidb64>/<token>/",
        account_views.PasswordResetConfirmView.as_view(),
        name="password-reset-confirm",
    ),
    path(
        "accounts/password/reset/complete/",
        account_views.PasswordResetCompleteView.as_view(),
        name="password-reset-complete",
    ),
]
