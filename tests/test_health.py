"""GET /api/v1/health/: 200 while the database answers, 503 when it does not.

The "database down" case is real, not a mocked exception: the view's
connection is swapped for a second PostgreSQL connection whose settings point
at a local TCP port nobody listens on, so psycopg genuinely fails to connect
and Django raises its own OperationalError, exactly as when the server is
gone. Only the connection object is swapped; the view code runs unchanged.
"""

import socket

import pytest
from django.db import connections
from django.db.utils import load_backend

pytestmark = pytest.mark.django_db

URL = "/api/v1/health/"


def test_health_answers_200_ok_while_the_database_answers(api_client):
    response = api_client.get(URL)

    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_health_needs_no_authentication_even_with_a_bad_token(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert api_client.get(URL).status_code == 200


def _closed_port() -> int:
    """A local port that was free a moment ago and now has no listener: connecting is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def unreachable_database(monkeypatch):
    settings = {
        **connections["default"].settings_dict,
        "HOST": "127.0.0.1",
        "PORT": str(_closed_port()),
        "OPTIONS": {"connect_timeout": 2},
        "CONN_HEALTH_CHECKS": False,
    }
    wrapper = load_backend(settings["ENGINE"]).DatabaseWrapper(settings, alias="unreachable")
    monkeypatch.setattr("bookwise.health.connection", wrapper)
    yield wrapper
    wrapper.close()


def test_health_answers_503_when_the_database_is_unreachable(api_client, unreachable_database):
    response = api_client.get(URL)

    assert response.status_code == 503
    assert response.json()["status"] != "ok"
    # The failure really came from connecting, not from a stubbed call.
    assert unreachable_database.connection is None


def test_health_recovers_once_the_database_is_back(api_client, unreachable_database, monkeypatch):
    assert api_client.get(URL).status_code == 503

    monkeypatch.setattr("bookwise.health.connection", connections["default"])

    assert api_client.get(URL).status_code == 200
