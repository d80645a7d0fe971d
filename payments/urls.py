from django.urls import path

from payments.api import PaymentCreateView

app_name = "payments"

urlpatterns = [
    path("payments/create/", PaymentCreateView.as_view(), name="create"),
]
