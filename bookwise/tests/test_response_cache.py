"""The short cache of anonymous catalog reads (bookwise/response_cache.py, CATALOG_CACHE_SECONDS)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.contrib.messages import constants
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.cache import cache
from django.db import connection
from django.http import HttpResponse
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.tests.factories import UserFactory
from bookwise.tests.test_cache import redis_down  # noqa: F401 - fixture
from catalog.tests.factories import SlotFactory, ThemeFactory
from conftest import bearer_client

pytestmark = pytest.mark.django_db

CATALOG_PAGE = reverse("portal:catalog")


@pytest.fixture(autouse=True)
def _cache_on(settings):
    settings.CATALOG_CACHE_SECONDS = 5


@pytest.fixture
def theme():
    theme = ThemeFactory(title="Vault of Secrets")
    # Two days ahead, explicitly: the factory's sequence walks 2 h further per slot made in this process,
    # and a slot more than 12 months out is past the theme page's calendar (no book form to look for).
    SlotFactory(theme=theme, starts_at=(timezone.now() + timedelta(days=2)).replace(minute=0, second=0, microsecond=0))
    return theme


def api_urls(theme) -> list[str]:
    return ["/api/v1/themes/?city=lisbon", f"/api/v1/themes/{theme.pk}/", f"/api/v1/themes/{theme.pk}/slots/"]


def queries_of(get) -> tuple[object, int]:
    with CaptureQueriesContext(connection) as ctx:
        response = get()
    return response, len(ctx.captured_queries)


def test_a_second_anonymous_api_read_within_the_ttl_is_served_from_the_cache(theme):
    client = APIClient()
    for url in api_urls(theme):
        first, first_queries = queries_of(lambda url=url: client.get(url))
        second, second_queries = queries_of(lambda url=url: client.get(url))

        assert first.status_code == second.status_code == 200, url
        assert first_queries > 0, url
        assert second_queries == 0, url
        assert second.json() == first.json(), url
        assert second["Content-Type"] == first["Content-Type"] == "application/json"


def test_the_cache_key_is_the_whole_url(theme):
    other = ThemeFactory(merchant__city="Porto", title="Porto Room")
    client = APIClient()
    lisbon = client.get("/api/v1/themes/?city=lisbon").json()
    porto = client.get("/api/v1/themes/?city=porto").json()

    assert [t["id"] for t in lisbon["results"]] == [theme.pk]
    assert [t["id"] for t in porto["results"]] == [other.pk]


def test_authenticated_api_reads_never_use_the_cache(theme):
    user = UserFactory()
    anonymous = APIClient()
    for url in api_urls(theme):
        anonymous.get(url)  # cached for anonymous visitors
        response, queries = queries_of(lambda url=url: bearer_client(user).get(url))
        assert response.status_code == 200
        assert queries > 0, url
    # Nor are their answers stored for others.
    cache.clear()
    for url in api_urls(theme):
        bearer_client(user).get(url)
        _response, queries = queries_of(lambda url=url: anonymous.get(url))
        assert queries > 0, url


def test_a_bad_token_is_still_refused_when_the_anonymous_answer_is_cached(theme):
    APIClient().get("/api/v1/themes/")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")

    assert client.get("/api/v1/themes/").status_code == 401


def test_a_new_theme_shows_once_the_ttl_has_passed(settings, theme):
    settings.CATALOG_CACHE_SECONDS = 1
    client = APIClient()
    assert len(client.get("/api/v1/themes/").json()["results"]) == 1
    ThemeFactory(title="Another Room")

    assert len(client.get("/api/v1/themes/").json()["results"]) == 1  # within the TTL
    time.sleep(1.2)
    assert len(client.get("/api/v1/themes/").json()["results"]) == 2


def test_zero_seconds_turns_the_cache_off(settings, theme):
    settings.CATALOG_CACHE_SECONDS = 0
    client = APIClient()
    client.get("/api/v1/themes/")
    _response, queries = queries_of(lambda: client.get("/api/v1/themes/"))
    assert queries > 0


def test_reads_work_and_are_cached_per_process_with_redis_down(redis_down, theme):  # noqa: F811
    client = APIClient()
    first = client.get(f"/api/v1/themes/{theme.pk}/")
    second, queries = queries_of(lambda: client.get(f"/api/v1/themes/{theme.pk}/"))
    page = client.get(CATALOG_PAGE)

    assert first.status_code == second.status_code == page.status_code == 200
    assert queries == 0  # the in-memory fallback
    assert "Vault of Secrets" in page.content.decode()


def test_errors_are_not_cached(theme):
    client = APIClient()
    assert client.get("/api/v1/themes/999999/").status_code == 404
    _response, queries = queries_of(lambda: client.get("/api/v1/themes/999999/"))
    assert queries > 0


# --- The portal ----------------------------------------------------------------------------


def test_the_anonymous_catalog_page_is_cached(client, theme):
    first, first_queries = queries_of(lambda: client.get(CATALOG_PAGE, {"q": "vault"}))
    second, second_queries = queries_of(lambda: client.get(CATALOG_PAGE, {"q": "vault"}))

    assert first.status_code == second.status_code == 200
    assert first_queries > 0
    assert second_queries == 0
    assert second.content == first.content
    assert "Vault of Secrets" in second.content.decode()
    assert not second.cookies


def test_a_signed_in_visitor_never_gets_nor_fills_the_cached_catalog_page(client, theme):
    client.get(CATALOG_PAGE)  # cached anonymous
    user = UserFactory()
    client.force_login(user)
    response, queries = queries_of(lambda: client.get(CATALOG_PAGE))

    assert queries > 0
    assert user.email in response.content.decode() or "Log out" in response.content.decode()


def test_a_visitor_with_messages_gets_a_fresh_page(client, rf, theme):
    client.get(CATALOG_PAGE)  # cached, without messages
    # A message waiting in the cookie storage (as after a logout): the page must show it, fresh.
    storage = CookieStorage(rf.get("/"))
    storage.add(constants.SUCCESS, "Welcome back, traveller.")
    carrier = HttpResponse()
    storage.update(carrier)
    client.cookies[storage.cookie_name] = carrier.cookies[storage.cookie_name].value

    page, queries = queries_of(lambda: client.get(CATALOG_PAGE))

    assert queries > 0
    assert "Welcome back, traveller." in page.content.decode()
    # And the page with the message was not stored for the next visitor.
    following = APIClient().get(CATALOG_PAGE)
    assert "Welcome back" not in following.content.decode()


def test_the_theme_page_is_not_cached_its_form_carries_a_per_visitor_csrf_token(client, theme):
    url = reverse("portal:theme-detail", args=[theme.pk])
    client.get(url)
    second, queries = queries_of(lambda: client.get(url))

    assert second.status_code == 200
    assert queries > 0
    assert "csrfmiddlewaretoken" in second.content.decode()
