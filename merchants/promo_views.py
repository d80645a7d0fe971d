"""The merchant's "Promo codes" page (/merchant/promo-codes/): list with uses and revenue, create, pause, edit.

Thin, like merchants/views.py: the codes are scoped to the caller's own
merchant (another merchant's code is a 404), the rules are bookings.promo's.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from bookings.promo import promo_code_create, promo_code_update, promo_codes_of
from bookwise.errors import DomainError
from bookwise.web import form_add_domain_error
from merchants.promo_forms import PromoCodeActiveForm, PromoCodeEditForm, PromoCodeForm, last_local_day
from merchants.views import _form_status, _render, approved_merchant_required

MAX_CODES_SHOWN = 200


def _codes(request: HttpRequest) -> list:
    codes = list(promo_codes_of(merchant=request.merchant)[:MAX_CODES_SHOWN])
    for code in codes:
        code.last_day = last_local_day(code.valid_to, request.merchant)
    return codes


# The service's field names where the form's differ.
FIELD_MAP = {"valid_to": "last_day", "valid_from": "first_day"}


@approved_merchant_required
@require_http_methods(["GET", "POST"])
def promo_code_list(request: HttpRequest) -> HttpResponse:
    form = PromoCodeForm(request.POST or None, merchant=request.merchant)
    if request.method == "POST" and form.is_valid():
        try:
            code = promo_code_create(merchant=request.merchant, **form.service_kwargs())
        except DomainError as exc:
            if exc.code == "promo_code_exists":
                form.add_error("code", exc.message)
            else:
                form_add_domain_error(form, exc, field_map=FIELD_MAP)
        else:
            messages.success(request, f"Promo code {code.code} created. Customers type it on the booking form.")
            return redirect("merchant:promo-codes")
    context = {"form": form, "codes": _codes(request), "max_shown": MAX_CODES_SHOWN, "now": timezone.now()}
    return _render(request, "promo_codes.html", context, status=_form_status(form))


@approved_merchant_required
@require_POST
def promo_code_active(request: HttpRequest, pk: int) -> HttpResponse:
    """Pause (is_active off) or resume a code."""
    code = get_object_or_404(promo_codes_of(merchant=request.merchant), pk=pk)
    form = PromoCodeActiveForm(request.POST)
    form.is_valid()
    active = bool(form.cleaned_data.get("is_active"))
    promo_code_update(code=code, is_active=active)
    messages.success(request, f"Promo code {code.code} {'resumed' if active else 'paused'}.")
    return redirect("merchant:promo-codes")


@approved_merchant_required
@require_http_methods(["GET", "POST"])
def promo_code_edit(request: HttpRequest, pk: int) -> HttpResponse:
    code = get_object_or_404(promo_codes_of(merchant=request.merchant), pk=pk)
    initial = {"last_day": last_local_day(code.valid_to, request.merchant), "max_redemptions": code.max_redemptions}
    form = PromoCodeEditForm(request.POST or None, initial=initial, merchant=request.merchant)
    if request.method == "POST" and form.is_valid():
        try:
            promo_code_update(code=code, **form.service_kwargs())
        except DomainError as exc:
            form_add_domain_error(form, exc, field_map=FIELD_MAP)
        else:
            messages.success(request, f"Promo code {code.code} saved.")
            return redirect("merchant:promo-codes")
    return _render(request, "promo_code_edit.html", {"form": form, "code": code}, status=_form_status(form))
