import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Role
from accounts.tests.factories import UserFactory
from catalog.tests.factories import ThemeFactory
from conftest import bearer_client
from merchants.models import Merchant, MerchantStatus
from merchants.tests.factories import MerchantFactory, PendingMerchantFactory

pytestmark = pytest.mark.django_db

LIST_URL = "/api/v1/merchants/"
APPLICATION = {"name": "Riddle Rooms", "description": "Rooms.", "city": "Porto", "timezone": "Europe/Lisbon"}


def detail_url(merchant: Merchant, suffix: str = "") -> str:
    return f"/api/v1/merchants/{merchant.pk}/{suffix}"


# --- apply ---------------------------------------------------------------------------


def test_apply_returns_201_with_a_pending_profile(customer, customer_client):
    response = customer_client.post(LIST_URL, APPLICATION)

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {
        "id",
        "name",
        "description",
        "street",
        "postcode",
        "city",
        "country",
        "timezone",
        "status",
        "created_at",
    }
    assert body["status"] == "pending"
    assert body["name"] == "Riddle Rooms"
    assert Merchant.objects.get(pk=body["id"]).owner == customer


def test_apply_ignores_status_and_owner_sent_by_the_client(customer, customer_client):
    other = UserFactory()

    response = customer_client.post(LIST_URL, {**APPLICATION, "status": "approved", "owner": other.pk})

    assert response.status_code == 201
    merchant = Merchant.objects.get(pk=response.json()["id"])
    assert merchant.status == MerchantStatus.PENDING
    assert merchant.owner == customer


def test_apply_twice_answers_409_already_merchant(customer_client):
    assert customer_client.post(LIST_URL, APPLICATION).status_code == 201

    response = customer_client.post(LIST_URL, APPLICATION)

    assert response.status_code == 409
    assert response.json()["code"] == "already_merchant"


def test_apply_by_an_approved_merchant_answers_409(merchant_client):
    response = merchant_client.post(LIST_URL, APPLICATION)
    assert response.status_code == 409
    assert response.json()["code"] == "already_merchant"


def test_apply_with_a_bad_timezone_answers_400_on_the_timezone_field(customer, customer_client):
    response = customer_client.post(LIST_URL, {**APPLICATION, "timezone": "Mars/Olympus"})

    assert response.status_code == 400
    assert "timezone" in response.json()
    assert not Merchant.objects.filter(owner=customer).exists()


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {**APPLICATION, "name": ""},
        {**APPLICATION, "name": "x" * 201},
        {**APPLICATION, "city": None},
        {**APPLICATION, "timezone": ["Europe/Paris"]},
        {**APPLICATION, "timezone": "E" * 500},
        {**APPLICATION, "name": "nul\x00byte"},
    ],
)
def test_apply_with_invalid_input_answers_400(customer_client, payload):
    response = customer_client.post(LIST_URL, payload)
    assert response.status_code == 400


def test_apply_needs_authentication(api_client):
    assert api_client.post(LIST_URL, APPLICATION).status_code == 401


# --- read -----------------------------------------------------------------------------


def test_list_shows_approved_merchants_only_to_anyone(api_client):
    approved = MerchantFactory()
    PendingMerchantFactory()
    MerchantFactory(status=MerchantStatus.SUSPENDED)

    response = api_client.get(LIST_URL)

    assert response.status_code == 200
    body = response.json()
    assert {"next", "previous", "results"} <= set(body)
    assert [m["id"] for m in body["results"]] == [approved.pk]


def test_list_paginates_without_extra_queries_per_row(api_client):
    MerchantFactory.create_batch(5)

    with CaptureQueriesContext(connection) as queries:
        response = api_client.get(LIST_URL, {"page_size": 2})

    assert response.status_code == 200
    assert len(response.json()["results"]) == 2
    assert response.json()["next"]
    assert len(queries) == 1

    second = api_client.get(response.json()["next"])
    assert len(second.json()["results"]) == 2


def test_list_filters_by_city(api_client):
    porto = MerchantFactory(city="Porto")
    MerchantFactory(city="Lisbon")

    response = api_client.get(LIST_URL, {"city": "porto"})

    assert [m["id"] for m in response.json()["results"]] == [porto.pk]


def test_pending_merchant_is_visible_to_its_owner_and_admin_but_404_to_others(
    api_client, customer_client, admin_client_api
):
    pending = PendingMerchantFactory()

    assert api_client.get(detail_url(pending)).status_code == 404
    assert customer_client.get(detail_url(pending)).status_code == 404
    owner_view = bearer_client(pending.owner).get(detail_url(pending))
    assert owner_view.status_code == 200
    assert owner_view.json()["status"] == "pending"
    assert admin_client_api.get(detail_url(pending)).status_code == 200


def test_approved_merchant_is_visible_to_anyone(api_client):
    merchant = MerchantFactory()

    response = api_client.get(detail_url(merchant))

    assert response.status_code == 200
    assert response.json()["id"] == merchant.pk


@pytest.mark.parametrize("pk", ["0", "abc", "99999999999999999999999"])
def test_unknown_merchant_ids_answer_404(api_client, pk):
    assert api_client.get(f"/api/v1/merchants/{pk}/").status_code == 404


def test_me_returns_the_callers_profile_or_404(customer_client):
    pending = PendingMerchantFactory()

    mine = bearer_client(pending.owner).get("/api/v1/merchants/me/")
    assert mine.status_code == 200
    assert mine.json()["id"] == pending.pk

    assert customer_client.get("/api/v1/merchants/me/").status_code == 404


def test_me_needs_authentication(api_client):
    assert api_client.get("/api/v1/merchants/me/").status_code == 401


# --- approve / suspend ----------------------------------------------------------------


def test_approve_by_admin_answers_200_and_makes_the_owner_a_merchant(admin_client_api):
    pending = PendingMerchantFactory()

    response = admin_client_api.post(detail_url(pending, "approve/"))

    assert response.status_code == 200
    assert response.json()["status"] == "approved"
    pending.owner.refresh_from_db()
    assert pending.owner.role == Role.MERCHANT
    # The new merchant's own view of itself, through its role.
    me = bearer_client(pending.owner).get("/api/v1/users/me/")
    assert me.json()["role"] == "merchant"


def test_approve_twice_answers_200_both_times(admin_client_api):
    pending = PendingMerchantFactory()
    assert admin_client_api.post(detail_url(pending, "approve/")).status_code == 200
    assert admin_client_api.post(detail_url(pending, "approve/")).status_code == 200


def test_approve_by_a_non_admin_answers_403(customer_client, merchant_client):
    pending = PendingMerchantFactory()

    assert customer_client.post(detail_url(pending, "approve/")).status_code == 403
    assert merchant_client.post(detail_url(pending, "approve/")).status_code == 403
    assert bearer_client(pending.owner).post(detail_url(pending, "approve/")).status_code == 403
    pending.refresh_from_db()
    assert pending.status == MerchantStatus.PENDING


def test_approve_anonymously_answers_401(api_client):
    assert api_client.post(detail_url(PendingMerchantFactory(), "approve/")).status_code == 401


def test_approve_an_unknown_merchant_answers_404(admin_client_api):
    assert admin_client_api.post("/api/v1/merchants/987654321/approve/").status_code == 404


def test_suspend_by_admin_flips_the_role_back_and_hides_the_merchant(admin_client_api, api_client):
    merchant = MerchantFactory()

    response = admin_client_api.post(detail_url(merchant, "suspend/"), {"reason": "Unpaid fees"}, format="json")

    assert response.status_code == 200
    assert response.json()["status"] == "suspended"
    merchant.owner.refresh_from_db()
    assert merchant.owner.role == Role.CUSTOMER
    assert api_client.get(detail_url(merchant)).status_code == 404
    assert api_client.get(LIST_URL).json()["results"] == []
    # The owner still sees their own (suspended) profile.
    assert bearer_client(merchant.owner).get(detail_url(merchant)).status_code == 200


def test_suspended_merchant_themes_leave_the_public_catalog(admin_client_api, api_client):
    theme = ThemeFactory()
    assert api_client.get(f"/api/v1/themes/{theme.pk}/").status_code == 200

    admin_client_api.post(detail_url(theme.merchant, "suspend/"), {"reason": "Unpaid fees"}, format="json")

    assert api_client.get(f"/api/v1/themes/{theme.pk}/").status_code == 404
    listed = api_client.get("/api/v1/themes/").json()["results"]
    assert theme.pk not in [t["id"] for t in listed]


def test_suspend_a_pending_merchant_answers_409(admin_client_api):
    response = admin_client_api.post(
        detail_url(PendingMerchantFactory(), "suspend/"), {"reason": "Unpaid fees"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "merchant_not_approved"


def test_suspend_by_a_non_admin_answers_403(merchant, merchant_client):
    assert merchant_client.post(detail_url(merchant, "suspend/")).status_code == 403
    merchant.refresh_from_db()
    assert merchant.status == MerchantStatus.APPROVED


def test_status_cannot_be_changed_through_put_or_patch(merchant, merchant_client, admin_client_api):
    # PATCH is the admins' platform fee only (payouts): the owner is refused, an admin's `status` ignored.
    assert merchant_client.patch(detail_url(merchant), {"status": "suspended"}).status_code == 403
    assert merchant_client.put(detail_url(merchant), {"status": "suspended"}).status_code == 405
    assert admin_client_api.patch(detail_url(merchant), {"status": "suspended"}).status_code == 200
    merchant.refresh_from_db()
    assert merchant.status == MerchantStatus.APPROVED
