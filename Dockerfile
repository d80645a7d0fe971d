# BookWise production image: gunicorn serves the web process; the same image runs
# the Celery worker and beat (see fly.toml [processes]).

# --- Build: install the pinned runtime requirements into a virtual environment ---
FROM python:3.11-slim AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

RUN python -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
RUN /opt/venv/bin/pip install -r /tmp/requirements.txt

# --- Runtime: the venv, the code, collected static files; runs as a non-root user ---
FROM python:3.11-slim

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=bookwise.settings

RUN groupadd --system --gid 1000 bookwise \
    && useradd --system --uid 1000 --gid bookwise --home-dir /app --shell /usr/sbin/nologin bookwise

WORKDIR /app
COPY --from=builder /opt/venv /opt/venv
COPY --chown=bookwise:bookwise . /app

# Static files are collected into the image (served by WhiteNoise). Settings refuse
# to load without production secrets, so this one build step gets placeholders: they
# live only in this RUN's environment (never in the image's ENV), collectstatic opens
# no connection, and at runtime every real value comes from the environment (fly
# secrets) or the settings refuse to start. tests/test_production_settings.py runs
# this exact step.
RUN SECRET_KEY=collectstatic-only-build-key-never-used-at-runtime-0123456789 \
    REDIS_URL=redis://collectstatic.invalid:6379/0 \
    STRIPE_SECRET_KEY=sk_test_CollectstaticBuildStepOnly000000 \
    STRIPE_PUBLISHABLE_KEY=pk_test_CollectstaticBuildStepOnly000000 \
    STRIPE_WEBHOOK_SECRET=whsec_collectstatic_build_step_only \
    python manage.py collectstatic --noinput \
    && chown -R bookwise:bookwise /app/staticfiles

USER bookwise
EXPOSE 8000

CMD ["sh", "-c", "exec gunicorn bookwise.wsgi:application --bind 0.0.0.0:8000 --workers ${WEB_CONCURRENCY:-3} --access-logfile -"]
