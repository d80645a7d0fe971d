"""The read replica router (bookwise/db_router.py).

The "replica" alias here is a second connection to the same test database (`TEST["MIRROR"]`
= default), so what goes through it is seen in that alias's own query log. Lag is simulated
by pinning the replica connection to an old snapshot (REPEATABLE READ begun before the writes).
"""

import contextlib
import copy
import time

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connections, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.models import User
from accounts.tests.factories import UserFactory
from bookings import services
from bookings.models import Booking
from bookings.selectors import seats_taken
from bookwise import db_router
from bookwise.db_router import PRIMARY, REPLICA, ReplicaRouter
from bookwise.errors import DomainError
from catalog.models import Slot, Theme, ThemePhoto
from catalog.tests.factories import SlotFactory
from conftest import bearer_client

ROUTER = "bookwise.db_router.ReplicaRouter"
MIDDLEWARE = "bookwise.db_router.ReadYourWritesMiddleware"
pytestmark = pytest.mark.filterwarnings("ignore:Overriding setting DATABASES:UserWarning")


def _with_router_middleware() -> list[str]:
    middleware = list(settings.MIDDLEWARE)
    middleware.insert(middleware.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1, MIDDLEWARE)
    return middleware


@pytest.fixture(scope="module", autouse=True)
def replica_alias(django_db_setup, django_db_blocker):
    """DATABASES["replica"]: a separate connection to the test database, and the router on."""
    replica = copy.deepcopy(connections[PRIMARY].settings_dict)
    replica["TEST"] = {**replica["TEST"], "MIRROR": PRIMARY}
    connections.settings[REPLICA] = replica
    databases = {**settings.DATABASES, REPLICA: replica}
    with override_settings(DATABASES=databases, DATABASE_ROUTERS=[ROUTER], MIDDLEWARE=_with_router_middleware()):
        yield
    with django_db_blocker.unblock():
        connections[REPLICA].close()
    del connections[REPLICA]
    del connections.settings[REPLICA]


@contextlib.contextmanager
def get_request():
    """What ReadYourWritesMiddleware sets for a GET request that has written nothing (yet)."""
    token = db_router._state.set(db_router._RequestState(request=None))
    try:
        yield
    finally:
        db_router._state.reset(token)


@pytest.fixture
def in_request():
    with get_request():
        yield


def queries_on(alias):
    return CaptureQueriesContext(connections[alias])


def sql_of(ctx) -> str:
    return "\n".join(q["sql"] for q in ctx.captured_queries)


# --- routing decisions ----------------------------------------------------------------------


def test_catalog_models_read_from_the_replica_everything_else_from_the_primary(in_request):
    router = ReplicaRouter()
    for model in (Theme, Slot, ThemePhoto):
        assert router.db_for_read(model) == REPLICA
    for model in (Booking, User):
        assert router.db_for_read(model) == PRIMARY


def test_every_write_goes_to_the_primary():
    router = ReplicaRouter()
    for model in (Theme, Slot, ThemePhoto, Booking, User):
        assert router.db_for_write(model) == PRIMARY


def test_the_replica_is_never_migrated():
    router = ReplicaRouter()
    assert router.allow_migrate(REPLICA, "catalog") is False
    assert router.allow_migrate(PRIMARY, "catalog") is True


def test_without_a_replica_the_router_has_no_opinion():
    with override_settings(DATABASES={PRIMARY: settings.DATABASES[PRIMARY]}):
        router = ReplicaRouter()
        assert router.db_for_read(Slot) is None
        assert router.db_for_write(Slot) is None


def test_outside_a_request_every_read_goes_to_the_primary():
    # Celery tasks and commands: a task queued after a commit must see what it wrote.
    assert ReplicaRouter().db_for_read(Slot) == PRIMARY


def test_a_request_marked_primary_reads_catalog_models_from_the_primary(in_request):
    db_router.use_primary()
    assert ReplicaRouter().db_for_read(Slot) == PRIMARY


@pytest.mark.django_db(transaction=True, databases=[PRIMARY, REPLICA])
def test_a_save_during_a_get_request_sends_its_later_reads_to_the_primary(client):
    client.get("/api/v1/health/")  # loads ReadYourWritesMiddleware, which listens to post_save
    with get_request():
        assert ReplicaRouter().db_for_read(Slot) == REPLICA
        SlotFactory()
        assert ReplicaRouter().db_for_read(Slot) == PRIMARY


def test_related_reads_of_an_instance_from_the_primary_stay_on_the_primary(in_request):
    slot = Slot(pk=1)
    slot._state.db = PRIMARY
    assert ReplicaRouter().db_for_read(Theme, instance=slot) == PRIMARY
    slot._state.db = REPLICA
    assert ReplicaRouter().db_for_read(Theme, instance=slot) == REPLICA


@pytest.mark.django_db(transaction=True, databases=[PRIMARY, REPLICA])
def test_inside_a_transaction_every_read_goes_to_the_primary(in_request):
    with transaction.atomic():
        assert ReplicaRouter().db_for_read(Slot) == PRIMARY
    assert ReplicaRouter().db_for_read(Slot) == REPLICA


# --- real queries ----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True, databases=[PRIMARY, REPLICA])
def test_catalog_reads_go_through_the_replica_connection_and_writes_through_the_primary():
    slot = SlotFactory(capacity=4)
    with queries_on(REPLICA) as replica, queries_on(PRIMARY) as primary:
        response = APIClient().get(f"/api/v1/themes/{slot.theme_id}/slots/")
    assert response.status_code == 200
    assert response.json()["results"][0]["seats_left"] == 4
    assert '"catalog_slot"' in sql_of(replica)
    assert '"catalog_slot"' not in sql_of(primary)

    with queries_on(REPLICA) as replica, queries_on(PRIMARY) as primary:
        response = bearer_client(UserFactory()).post(f"/api/v1/slots/{slot.pk}/join/", {"party_size": 1}, format="json")
    assert response.status_code == 201
    assert replica.captured_queries == []
    assert 'INSERT INTO "bookings_booking"' in sql_of(primary)
    assert "FOR UPDATE" in sql_of(primary)


@pytest.mark.django_db(transaction=True, databases=[PRIMARY, REPLICA])
def test_select_for_update_in_a_transaction_never_reaches_the_replica():
    slot = SlotFactory()  # before the request: a save during it would send all its reads to the primary
    with get_request(), queries_on(REPLICA) as replica, transaction.atomic():
        Slot.objects.select_for_update().get(pk=slot.pk)
        Slot.objects.get(pk=slot.pk)
        Theme.objects.filter(pk=slot.theme_id).first()
    assert replica.captured_queries == []


@pytest.mark.django_db(transaction=True, databases=[PRIMARY, REPLICA])
def test_a_users_reads_stay_on_the_primary_for_the_window_after_their_own_write():
    slot = SlotFactory(capacity=4)
    other = SlotFactory(capacity=4)
    customer = UserFactory()
    cache.delete(db_router.STICKY_KEY.format(customer.pk))
    with override_settings(REPLICA_STICKY_SECONDS=1):
        writer = bearer_client(customer)  # loads the middleware with a 1 s window
        assert writer.post(f"/api/v1/slots/{slot.pk}/join/", {}, format="json").status_code == 201
        assert db_router.STICKY_COOKIE in writer.cookies

        # The same user on another device (same token, no cookie): the cache key by user id.
        for client in (writer, bearer_client(customer)):
            with queries_on(REPLICA) as replica, queries_on(PRIMARY) as primary:
                response = client.get(f"/api/v1/themes/{slot.theme_id}/slots/")
            assert response.status_code == 200
            assert response.json()["results"][0]["seats_left"] == 3
            assert replica.captured_queries == []
            assert '"catalog_slot"' in sql_of(primary)

        # Someone else reads from the replica meanwhile.
        with queries_on(REPLICA) as replica:
            assert bearer_client(UserFactory()).get(f"/api/v1/themes/{other.theme_id}/slots/").status_code == 200
        assert '"catalog_slot"' in sql_of(replica)

        time.sleep(1.2)  # the window is over: back to the replica
        for client in (writer, bearer_client(customer)):
            with queries_on(REPLICA) as replica:
                assert client.get(f"/api/v1/themes/{slot.theme_id}/slots/").status_code == 200
            assert '"catalog_slot"' in sql_of(replica)


@pytest.mark.django_db(transaction=True, databases=[PRIMARY, REPLICA])
def test_a_lagging_replica_never_lets_a_join_oversell():
    slot = SlotFactory(capacity=1)
    first, second = UserFactory(), UserFactory()
    replica = connections[REPLICA]
    replica.ensure_connection()
    with replica.cursor() as cursor:  # the replica's view of the data stops here
        cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        cursor.execute("SELECT count(*) FROM bookings_booking")
    try:
        services.booking_join(slot_id=slot.pk, customer=first)
        assert seats_taken(slot_id=slot.pk) == 1

        # The lagging replica still shows the seat as free on the public slot list...
        with queries_on(REPLICA) as replica_queries:
            listed = APIClient().get(f"/api/v1/themes/{slot.theme_id}/slots/")
        assert listed.json()["results"][0]["seats_left"] == 1
        assert '"catalog_slot"' in sql_of(replica_queries)

        # ...but the join locks the slot and counts its seats on the primary.
        with queries_on(REPLICA) as replica_queries:
            response = bearer_client(second).post(f"/api/v1/slots/{slot.pk}/join/", {}, format="json")
            with pytest.raises(DomainError) as refused:
                services.booking_join(slot_id=slot.pk, customer=second)
        assert response.status_code == 409
        assert response.json()["code"] == "slot_full"
        assert refused.value.code == "slot_full"
        assert replica_queries.captured_queries == []
        assert Booking.objects.filter(slot=slot).count() == 1
    finally:
        with replica.cursor() as cursor:
            cursor.execute("ROLLBACK")
