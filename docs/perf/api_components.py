"""CPU of the API's per-request plumbing, A/B in one process: DRF's JSON renderer vs orjson, user query vs cache.

Run against a database filled by `manage.py load_scale_data` (it logs in customer1), with Redis:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bw_scale_small REDIS_URL=redis://127.0.0.1:6379/2 \
    DJANGO_SETTINGS_MODULE=bookwise.settings DEBUG=False SECRET_KEY=... STRIPE_...=... ALLOWED_HOSTS=testserver \
    PYTHONPATH=. .venv/bin/python docs/perf/api_components.py

Medians of 7 rounds of process CPU time (the machine may be shared: CPU time, not wall time).
"""

import time

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import RequestFactory  # noqa: E402
from rest_framework.renderers import JSONRenderer  # noqa: E402
from rest_framework.request import Request  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from accounts.authentication import SessionJWTAuthentication  # noqa: E402
from accounts.models import User  # noqa: E402
from accounts.services import token_pair_issue  # noqa: E402
from bookwise.renderers import ORJSONRenderer  # noqa: E402


def median_cpu_us(fn, n: int, rounds: int = 7) -> float:
    samples = []
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(n):
            fn()
        samples.append((time.process_time() - started) / n * 1e6)
    return sorted(samples)[rounds // 2]


def main() -> None:
    user = User.objects.get(email="customer1@scale.bookwise.test")
    access, _ = token_pair_issue(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM catalog_theme WHERE is_active ORDER BY id LIMIT 1")
        theme_id = cursor.fetchone()[0]
    paths = ["/api/v1/themes/", f"/api/v1/themes/{theme_id}/", "/api/v1/bookings/", f"/api/v1/themes/{theme_id}/slots/"]
    for path in paths:
        data = client.get(path).data
        drf, ours = JSONRenderer(), ORJSONRenderer()
        before = median_cpu_us(lambda r=drf, d=data: r.render(d), 300)
        after = median_cpu_us(lambda r=ours, d=data: r.render(d), 300)
        print(f"render {path} ({len(drf.render(data))} B): DRF {before:.1f} us, orjson {after:.1f} us")

    factory, auth = RequestFactory(), SessionJWTAuthentication()

    def authenticate() -> None:
        auth.authenticate(Request(factory.get("/api/v1/users/me/", HTTP_AUTHORIZATION=f"Bearer {access}")))

    results = {}
    for seconds in (0, 60, 0, 60):
        settings.AUTH_USER_CACHE_SECONDS = seconds
        authenticate()
        results.setdefault(seconds, []).append(median_cpu_us(authenticate, 300))
    print(f"authenticate a Bearer token: user query {min(results[0]):.1f} us, cached user {min(results[60]):.1f} us")


main()
