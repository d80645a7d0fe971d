"""PostgreSQL unreachable: 503 `service_unavailable` (JSON for the API, a friendly page for the portal), never 500.

Nothing is mocked. Requests go through Django's real WSGI handler (the one
gunicorn calls: request signals, every middleware, the views), not the test
client, which disconnects ``close_old_connections`` and re-raises exceptions.
"The database is down" means the connection's settings point at a local TCP
port nobody listens on, so psycopg really fails to connect; "the database
restarted" means PostgreSQL really terminated the connection's backend.
"""

from __future__ import annotations

import contextlib
import io
import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection

from accounts.tests.factories import DEFAULT_PASSWORD, UserFactory
from catalog.tests.factories import ThemeFactory

pytestmark = pytest.mark.django_db(transaction=True)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode()


def wsgi_request(
    path: str, *, method: str = "GET", headers: dict[str, str] | None = None, data: dict | None = None
) -> Answer:
    """One request through a fresh WSGIHandler, as gunicorn makes it; closing the response sends request_finished."""
    body = json.dumps(data).encode() if data is not None else b""
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "HTTP_HOST": "testserver",
        "REMOTE_ADDR": "127.0.0.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.input": io.BytesIO(body),
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": "application/json" if data is not None else "",
        "wsgi.errors": io.StringIO(),
        "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for name, value in (headers or {}).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    started: dict[str, object] = {}

    def start_response(status, response_headers, exc_info=None):
        started["status"] = int(status.split()[0])
        started["headers"] = dict(response_headers)

    response = WSGIHandler()(environ, start_response)
    try:
        content = b"".join(response)
    finally:
        response.close()
    return Answer(status=started["status"], headers=started["headers"], body=content)


def _closed_port() -> int:
    """A local port that was free a moment ago and now has no listener: connecting is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def database_unreachable() -> Iterator[None]:
    """Point the default connection at a closed port; every connection attempt in between is refused."""
    saved = {key: connection.settings_dict[key] for key in ("HOST", "PORT")}
    connection.close()
    connection.settings_dict.update(HOST="127.0.0.1", PORT=str(_closed_port()))
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.update(saved)


@pytest.fixture
def health_checks():
    """Set CONN_HEALTH_CHECKS (read when a connection opens) for this test; restored after."""
    saved = connection.settings_dict["CONN_HEALTH_CHECKS"], connection.settings_dict["CONN_MAX_AGE"]

    def configure(enabled: bool) -> None:
        connection.close()
        connection.settings_dict["CONN_HEALTH_CHECKS"] = enabled
        connection.settings_dict["CONN_MAX_AGE"] = 60  # persistent, as in production

    yield configure
    connection.close()
    connection.settings_dict["CONN_HEALTH_CHECKS"], connection.settings_dict["CONN_MAX_AGE"] = saved


def terminate_backend_of_default_connection() -> None:
    """What a PostgreSQL restart does to an idle kept connection: the server ends its backend."""
    pid = connection.connection.info.backend_pid
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params.pop("prepare_threshold", None)
    with psycopg.connect(**params, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        deadline = time.monotonic() + 5
        while admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone():
            assert time.monotonic() < deadline, "the backend did not go away"
            time.sleep(0.05)


def assert_api_503(answer: Answer) -> None:
    assert answer.status == 503, answer.body[:500]
    assert answer.headers["Content-Type"].startswith("application/json")
    body = answer.json()
    assert body["code"] == "service_unavailable"
    assert body["detail"]
    assert int(answer.headers["Retry-After"]) > 0
    assert b"Traceback" not in answer.body


def assert_portal_503(answer: Answer) -> None:
    assert answer.status == 503, answer.body[:500]
    assert answer.headers["Content-Type"].startswith("text/html")
    assert "briefly unavailable" in answer.text
    assert int(answer.headers["Retry-After"]) > 0
    assert "Traceback" not in answer.text


def test_api_answers_503_json_while_the_database_is_unreachable_then_recovers():
    theme = ThemeFactory()
    with database_unreachable():
        assert_api_503(wsgi_request("/api/v1/themes/"))
        assert_api_503(wsgi_request(f"/api/v1/themes/{theme.pk}/"))

    answer = wsgi_request(f"/api/v1/themes/{theme.pk}/")

    assert answer.status == 200
    assert answer.json()["title"] == theme.title


def test_an_authenticated_api_request_answers_503_when_the_user_cannot_be_loaded():
    from rest_framework_simplejwt.tokens import RefreshToken

    user = UserFactory()
    token = str(RefreshToken.for_user(user).access_token)
    with database_unreachable():
        assert_api_503(wsgi_request("/api/v1/users/me/", headers={"Authorization": f"Bearer {token}"}))
        login = {"email": user.email, "password": DEFAULT_PASSWORD}
        assert_api_503(wsgi_request("/api/v1/auth/token/", method="POST", data=login))

    assert wsgi_request("/api/v1/users/me/", headers={"Authorization": f"Bearer {token}"}).status == 200


def test_health_keeps_its_own_503_body():
    with database_unreachable():
        answer = wsgi_request("/api/v1/health/")

    assert answer.status == 503
    assert answer.json() == {"status": "unavailable", "database": "down"}


def test_portal_page_answers_a_friendly_503_page_then_recovers():
    theme = ThemeFactory()
    with database_unreachable():
        assert_portal_503(wsgi_request("/"))
        assert_portal_503(wsgi_request(f"/themes/{theme.pk}/"))

    answer = wsgi_request(f"/themes/{theme.pk}/")

    assert answer.status == 200
    assert theme.title in answer.text


def _session_cookie_of(user) -> str:
    from django.test import Client

    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


def test_a_logged_in_portal_user_gets_the_503_page_when_the_session_cannot_be_read():
    cookie = _session_cookie_of(UserFactory())
    with database_unreachable():
        assert_portal_503(wsgi_request("/bookings/", headers={"Cookie": cookie}))

    assert wsgi_request("/bookings/", headers={"Cookie": cookie}).status == 200


def test_a_portal_request_asking_for_json_gets_the_json_503():
    cookie = _session_cookie_of(UserFactory())
    with database_unreachable():
        answer = wsgi_request("/bookings/1/status/", headers={"Cookie": cookie, "Accept": "application/json"})

    assert_api_503(answer)


def test_an_error_raised_in_a_middleware_still_answers_503_not_500(settings):
    """LoginRequiredMiddleware reads the user (session, database) in process_view, outside the view.

    Django turns that exception into a 500 before it reaches our middleware;
    the middleware must still answer 503.
    """
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "django.contrib.auth.middleware.LoginRequiredMiddleware"]
    cookie = _session_cookie_of(UserFactory())
    with database_unreachable():
        assert_portal_503(wsgi_request("/bookings/", headers={"Cookie": cookie}))
        assert_api_503(wsgi_request("/api/v1/themes/", headers={"Cookie": cookie}))

    assert wsgi_request("/bookings/", headers={"Cookie": cookie}).status == 200


def test_the_503_page_renders_without_the_database_and_without_inline_code():
    from django.template.loader import get_template

    html = get_template("503.html").render({})

    assert "briefly unavailable" in html
    for inline in ("<script", "<style", "style="):
        assert inline not in html


def test_with_health_checks_a_restart_between_requests_costs_no_failed_request(health_checks):
    health_checks(True)
    theme = ThemeFactory()
    assert wsgi_request(f"/api/v1/themes/{theme.pk}/").status == 200
    kept = connection.connection
    assert kept is not None  # CONN_MAX_AGE kept it for the next request

    terminate_backend_of_default_connection()

    assert wsgi_request(f"/api/v1/themes/{theme.pk}/").status == 200
    assert connection.connection is not kept


def test_without_health_checks_a_broken_connection_fails_one_request_and_is_then_discarded(health_checks):
    health_checks(False)
    theme = ThemeFactory()
    assert wsgi_request(f"/api/v1/themes/{theme.pk}/").status == 200
    assert connection.connection is not None

    terminate_backend_of_default_connection()

    assert_api_503(wsgi_request(f"/api/v1/themes/{theme.pk}/"))
    # request_finished dropped the broken connection: the next request connects again.
    assert connection.connection is None
    assert wsgi_request(f"/api/v1/themes/{theme.pk}/").status == 200


def test_other_errors_still_answer_500():
    """Only database-unavailable errors become 503: a real bug must stay visible."""
    from bookwise.middleware import is_database_unavailable

    assert not is_database_unavailable(ValueError("a bug"))
    assert not is_database_unavailable(None)
