"""Statements compiled once per process (bookwise/sql_shapes.py): same rows as the ORM, refused when unsafe."""

from datetime import timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, router, transaction
from django.db.models import Count
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import UserFactory
from bookwise import sql_shapes
from catalog.models import Theme
from catalog.tests.factories import ThemeFactory


@pytest.fixture(autouse=True)
def _fresh_shapes():
    sql_shapes.forget_shapes()
    yield
    sql_shapes.forget_shapes()


def _users(*, joined_after, other_than: str, min_id: int):
    return (
        User.objects.filter(date_joined__gt=joined_after, pk__gte=min_id)
        .exclude(email=other_than)
        .order_by("pk")
        .values("pk", "email")
    )


@pytest.mark.django_db
def test_every_call_returns_the_rows_the_orm_returns_for_its_own_values():
    now = timezone.now()
    a = UserFactory(email="a@one.test")
    b = UserFactory(email="b@two.test")
    c = UserFactory(email="c@one.test")
    cases = [
        {"joined_after": now - timedelta(days=1), "other_than": "b@two.test", "min_id": a.pk},
        {"joined_after": now - timedelta(days=1), "other_than": "b@two.test", "min_id": c.pk},
        {"joined_after": now - timedelta(days=1), "other_than": "a@one.test", "min_id": 1},
        {"joined_after": now + timedelta(days=1), "other_than": "b@two.test", "min_id": 1},
    ]
    for values in cases:
        assert sql_shapes.values_rows("users", _users, **values) == list(_users(**values))
    assert sql_shapes.values_rows("users", _users, **cases[0]) == [
        {"pk": a.pk, "email": "a@one.test"},
        {"pk": c.pk, "email": "c@one.test"},
    ]
    assert [r["pk"] for r in sql_shapes.values_rows("users", _users, **cases[2])] == [b.pk, c.pk]


@pytest.mark.django_db
def test_the_statement_is_compiled_once_and_run_as_the_orm_wrote_it():
    now = timezone.now()
    UserFactory(email="a@one.test")
    built = []

    def build(**values):
        built.append(values)
        return _users(**values)

    for day in range(3):
        sql_shapes.values_rows("users", build, joined_after=now - timedelta(days=day), other_than="x", min_id=1)
    assert len(built) == 1  # later calls never build a queryset
    with CaptureQueriesContext(connection) as ctx:
        sql_shapes.values_rows("users", build, joined_after=now, other_than="a@one.test", min_id=7)
        list(_users(joined_after=now, other_than="a@one.test", min_id=7))
    cached, orm = (q["sql"] for q in ctx.captured_queries)
    assert cached == orm


@pytest.mark.django_db
def test_database_converters_are_applied_as_in_values():
    tiers = [{"code": "adult", "label": "Adult", "price": 2500}]
    theme = ThemeFactory(price_tiers=tiers)

    def build(*, theme_id):
        return Theme.objects.filter(pk=theme_id).values("price_tiers", "created_at")

    (row,) = sql_shapes.values_rows("theme tiers", build, theme_id=theme.pk)
    assert row == Theme.objects.filter(pk=theme.pk).values("price_tiers", "created_at").get()
    assert row["price_tiers"] == tiers  # JSON decoded, not text


@pytest.mark.django_db
def test_annotations_and_aggregate_subqueries_keep_their_names():
    user = UserFactory()

    def build(*, user_id):
        return User.objects.filter(pk=user_id).annotate(n=Count("pk")).values("email", "n")

    assert sql_shapes.values_rows("count", build, user_id=user.pk) == [{"email": user.email, "n": 1}]


@pytest.mark.django_db
def test_a_value_the_builder_or_its_lookup_changes_is_refused():
    def lowered(*, email):
        return User.objects.filter(email=email.lower()).values("pk")

    def suffix(*, domain):
        return User.objects.filter(email__endswith=domain).values("pk")  # sent as '%' || value

    with pytest.raises(ImproperlyConfigured, match="email"):
        sql_shapes.values_rows("lowered", lowered, email="A@X.test")
    with pytest.raises(ImproperlyConfigured, match="domain"):
        sql_shapes.values_rows("suffix", suffix, domain="@x.test")


@pytest.mark.django_db
def test_a_value_turned_into_another_lookup_value_is_refused():
    now = timezone.now()

    def build(*, since):
        return User.objects.filter(date_joined__gt=since - timedelta(hours=1)).values("pk")

    with pytest.raises(ImproperlyConfigured, match="since"):
        sql_shapes.values_rows("shifted", build, since=now)


def test_values_that_would_change_the_statement_belong_in_the_key():
    with pytest.raises(TypeError, match="key"):
        sql_shapes.values_rows(
            "flag", lambda *, active: User.objects.filter(is_active=active).values("pk"), active=True
        )
    with pytest.raises(TypeError, match="key"):
        sql_shapes.values_rows("ids", lambda *, ids: User.objects.filter(pk__in=ids).values("pk"), ids=[1, 2])


@pytest.mark.django_db
def test_later_calls_must_pass_the_same_kinds_of_values_and_aware_datetimes():
    now = timezone.now()
    values = {"joined_after": now, "other_than": "x", "min_id": 1}
    sql_shapes.values_rows("users", _users, **values)
    with pytest.raises(TypeError, match="naive"):
        sql_shapes.values_rows("users", _users, **{**values, "joined_after": now.replace(tzinfo=None)})
    with pytest.raises(TypeError, match="do not match"):
        sql_shapes.values_rows("users", _users, **{**values, "min_id": "1"})
    with pytest.raises(TypeError, match="do not match"):
        sql_shapes.values_rows("users", _users, joined_after=now, other_than="x")


@pytest.mark.django_db
def test_only_values_querysets():
    with pytest.raises(ImproperlyConfigured, match="values"):
        sql_shapes.values_rows("models", lambda *, pk: User.objects.filter(pk=pk), pk=1)


@pytest.mark.django_db(transaction=True)
def test_a_locking_statement_runs_on_the_write_database_and_only_in_a_transaction(monkeypatch):
    user = UserFactory()

    def build(*, user_id):
        return User.objects.select_for_update().filter(pk=user_id).values("pk")

    with transaction.atomic():
        assert sql_shapes.values_rows("lock", build, user_id=user.pk) == [{"pk": user.pk}]
    asked = []
    monkeypatch.setattr(router, "db_for_write", lambda model, **hints: asked.append(model) or "default")
    monkeypatch.setattr(router, "db_for_read", lambda model, **hints: pytest.fail("a lock read a replica"))
    with pytest.raises(TransactionManagementError):
        sql_shapes.values_rows("lock", build, user_id=user.pk)
    assert asked == [User]
