import pytest
from django.contrib.auth.models import AnonymousUser

from accounts.models import Role
from accounts.tests.factories import AdminFactory, UserFactory
from bookwise.errors import DomainError, Forbidden, InvalidInput
from catalog.selectors import theme_list_public
from catalog.tests.factories import ThemeFactory
from checkout.services import merchant_suspend
from merchants.models import Merchant, MerchantStatus
from merchants.selectors import merchant_list_public, merchant_of, merchant_visible_to
from merchants.services import merchant_apply, merchant_approve
from merchants.tests.factories import MerchantFactory, PendingMerchantFactory
from tests.concurrency import run_together

pytestmark = pytest.mark.django_db

APPLICATION = {"name": "Riddle Rooms", "description": "Rooms.", "city": "Porto", "timezone": "Europe/Lisbon"}


def test_apply_creates_a_pending_profile_and_keeps_the_customer_role():
    user = UserFactory()

    merchant = merchant_apply(user=user, **APPLICATION)

    merchant.refresh_from_db()
    assert merchant.owner == user
    assert merchant.status == MerchantStatus.PENDING
    assert merchant.approved_at is None
    assert (merchant.name, merchant.city, merchant.timezone) == ("Riddle Rooms", "Porto", "Europe/Lisbon")
    user.refresh_from_db()
    assert user.role == Role.CUSTOMER


def test_apply_twice_is_refused_with_already_merchant():
    user = UserFactory()
    merchant_apply(user=user, **APPLICATION)

    with pytest.raises(DomainError) as exc:
        merchant_apply(user=user, **APPLICATION)

    assert exc.value.code == "already_merchant"
    assert exc.value.http_status == 409
    assert Merchant.objects.filter(owner=user).count() == 1


@pytest.mark.parametrize("tz", ["Mars/Olympus", "", "europe/paris", "../etc/passwd", "UTC+2"])
def test_apply_refuses_a_timezone_that_is_not_iana(tz):
    user = UserFactory()

    with pytest.raises(InvalidInput) as exc:
        merchant_apply(user=user, **{**APPLICATION, "timezone": tz})

    assert exc.value.field == "timezone"
    assert exc.value.http_status == 400
    assert not Merchant.objects.filter(owner=user).exists()


def test_apply_refuses_a_blank_name():
    with pytest.raises(InvalidInput) as exc:
        merchant_apply(user=UserFactory(), **{**APPLICATION, "name": "   "})
    assert exc.value.field == "name"


@pytest.mark.django_db(transaction=True)
def test_concurrent_applications_create_exactly_one_profile():
    """Both threads pass the exists() check together; the OneToOne unique index lets one in."""
    user = UserFactory()

    def apply() -> str:
        try:
            merchant_apply(user=user, **APPLICATION)
        except DomainError as exc:
            return exc.code
        return "created"

    outcomes = run_together([apply, apply])

    assert sorted(outcomes) == ["already_merchant", "created"]
    assert Merchant.objects.filter(owner=user).count() == 1


def test_apply_race_loser_gets_already_merchant_from_the_unique_index(monkeypatch):
    """Deterministic version of the race: the pre-check misses the row another request just committed."""
    user = UserFactory()
    PendingMerchantFactory(owner=user)
    real_manager = Merchant.objects
    calls = []

    class _FirstLookBlind:
        def filter(self, *args, **kwargs):
            calls.append(kwargs)
            qs = real_manager.filter(*args, **kwargs)
            return qs.none() if len(calls) == 1 else qs

    monkeypatch.setattr(Merchant, "objects", _FirstLookBlind())
    with pytest.raises(DomainError) as exc:
        merchant_apply(user=user, **APPLICATION)
    monkeypatch.undo()

    assert exc.value.code == "already_merchant"
    assert len(calls) == 2  # the blind pre-check, then the look after the unique index refused the row
    assert Merchant.objects.filter(owner=user).count() == 1


def test_approve_by_admin_approves_and_makes_the_owner_a_merchant():
    pending = PendingMerchantFactory()

    merchant = merchant_approve(merchant=pending, by=AdminFactory())

    assert merchant.status == MerchantStatus.APPROVED
    assert merchant.approved_at is not None
    pending.owner.refresh_from_db()
    assert pending.owner.role == Role.MERCHANT


def test_approve_is_idempotent():
    pending = PendingMerchantFactory()
    admin = AdminFactory()
    first = merchant_approve(merchant=pending, by=admin)

    second = merchant_approve(merchant=pending, by=admin)

    assert second.status == MerchantStatus.APPROVED
    assert second.approved_at == first.approved_at


def test_approve_keeps_an_admin_owner_an_admin():
    admin_owner = AdminFactory()
    pending = PendingMerchantFactory(owner=admin_owner)

    merchant_approve(merchant=pending, by=AdminFactory())

    admin_owner.refresh_from_db()
    assert admin_owner.role == Role.ADMIN


def test_approve_by_a_non_admin_is_forbidden():
    pending = PendingMerchantFactory()

    with pytest.raises(Forbidden):
        merchant_approve(merchant=pending, by=MerchantFactory().owner)

    pending.refresh_from_db()
    assert pending.status == MerchantStatus.PENDING


def test_suspend_flips_the_owner_back_to_customer_and_approve_restores_it():
    merchant = MerchantFactory()
    admin = AdminFactory()

    suspended = merchant_suspend(merchant=merchant, by=admin, reason="Test suspension").merchant

    assert suspended.status == MerchantStatus.SUSPENDED
    merchant.owner.refresh_from_db()
    assert merchant.owner.role == Role.CUSTOMER

    merchant_approve(merchant=merchant, by=admin)
    merchant.owner.refresh_from_db()
    assert merchant.owner.role == Role.MERCHANT


def test_suspend_is_idempotent_and_refuses_a_pending_merchant():
    admin = AdminFactory()
    merchant = MerchantFactory()
    merchant_suspend(merchant=merchant, by=admin, reason="Test suspension")
    assert (
        merchant_suspend(merchant=merchant, by=admin, reason="Test suspension").merchant.status
        == MerchantStatus.SUSPENDED
    )

    with pytest.raises(DomainError) as exc:
        merchant_suspend(merchant=PendingMerchantFactory(), by=admin, reason="Test suspension")
    assert exc.value.code == "merchant_not_approved"


def test_suspend_keeps_an_admin_owner_an_admin():
    admin_owner = AdminFactory()
    merchant = MerchantFactory(owner=admin_owner)

    merchant_suspend(merchant=merchant, by=AdminFactory(), reason="Test suspension")

    admin_owner.refresh_from_db()
    assert admin_owner.role == Role.ADMIN


def test_suspend_by_a_non_admin_is_forbidden():
    merchant = MerchantFactory()
    with pytest.raises(Forbidden):
        merchant_suspend(merchant=merchant, by=merchant.owner, reason="Test suspension")


def test_suspended_merchant_themes_leave_the_public_catalog():
    theme = ThemeFactory()
    assert theme_list_public().filter(pk=theme.pk).exists()

    merchant_suspend(merchant=theme.merchant, by=AdminFactory(), reason="Test suspension")

    assert not theme_list_public().filter(pk=theme.pk).exists()


def test_selectors_scope_pending_and_suspended_profiles():
    approved = MerchantFactory()
    pending = PendingMerchantFactory()
    suspended = MerchantFactory(status=MerchantStatus.SUSPENDED)
    stranger = UserFactory()

    assert set(merchant_list_public()) == {approved}
    assert set(merchant_visible_to(user=AnonymousUser())) == {approved}
    assert set(merchant_visible_to(user=stranger)) == {approved}
    assert set(merchant_visible_to(user=pending.owner)) == {approved, pending}
    assert set(merchant_visible_to(user=suspended.owner)) == {approved, suspended}
    assert set(merchant_visible_to(user=AdminFactory())) == {approved, pending, suspended}
    assert merchant_of(user=pending.owner) == pending
    assert merchant_of(user=stranger) is None


def test_list_public_filters_by_city_case_insensitively():
    porto = MerchantFactory(city="Porto")
    MerchantFactory(city="Lisbon")

    assert list(merchant_list_public(city="porto")) == [porto]
