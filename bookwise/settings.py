"""BookWise settings: one module, every value from the environment.

Development reads a git-ignored `.env` at the repository root (written by
`scripts/dev.py` on first run). Production sets real environment variables;
there (DEBUG off, the default) the settings refuse to start without SECRET_KEY,
REDIS_URL and the Stripe keys, or with the public development Stripe keys.
Every variable is documented in `.env.example`.
"""

import importlib.util
from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from bookwise.media_origins import media_origins

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# `scripts/dev.py test` sets DJANGO_READ_DOT_ENV_FILE=False: a developer's .env
# (DEBUG=True, their own database) must not change what the tests see.
if env.bool("DJANGO_READ_DOT_ENV_FILE", default=True) and (BASE_DIR / ".env").is_file():
    env.read_env(str(BASE_DIR / ".env"), overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

_INSECURE_DEV_KEY = "django-insecure-development-only-key-never-use-in-production"
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off (production).")
    SECRET_KEY = _INSECURE_DEV_KEY
elif not DEBUG and (len(SECRET_KEY) < 32 or SECRET_KEY.startswith("django-insecure")):
    raise ImproperlyConfigured("SECRET_KEY is too weak for production: use 50 random characters.")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "portal.admin_site.BookwiseAdminConfig",  # django.contrib.admin with our index page
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django.forms",  # Django's form templates, for FORM_RENDERER below
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "django_celery_beat",
    "djstripe",
    "bookwise",
    "accounts",
    "merchants",
    "catalog",
    "bookings",
    "reviews",
    "payments",
    "checkout",
    "portal",
]
# Development tooling (devtools/: `manage.py load_scale_data`): with DEBUG on or BOOKWISE_DEVTOOLS=1, and only
# where the package exists. Production (DEBUG off, no flag) never loads it; the image does not ship it.
if (DEBUG or env.bool("BOOKWISE_DEVTOOLS", default=False)) and importlib.util.find_spec("devtools") is not None:
    INSTALLED_APPS.append("devtools")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Appends "; Partitioned" to the cookies the middleware below set (COOKIE_PARTITIONED).
    "bookwise.cookies.PartitionedCookiesMiddleware",
    "bookwise.csp.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Database unreachable -> 503, never 500: outside every middleware that may query it.
    "bookwise.middleware.DatabaseUnavailableMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "bookwise.urls"
WSGI_APPLICATION = "bookwise.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.embed",  # the booking widget's pages (portal/embed_views.py)
            ],
        },
    },
]
# Form fields render through templates/forms/field.html (bookwise.web.FormRenderer).
FORM_RENDERER = "bookwise.web.FormRenderer"

# --- Database -----------------------------------------------------------------
# scripts/dev.py sets DATABASE_URL to the embedded pgserver when none is given.
DATABASES = {
    "default": env.db_url("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/bookwise"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
# A SELECT 1 before the first query of each request that reuses a connection, so one
# broken while idle (a database restart) is replaced instead of failing that request
# with a 503. Measured in docs/RELIABILITY.md.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("DB_CONN_HEALTH_CHECKS", default=True)
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env.int("DB_CONNECT_TIMEOUT", default=5)
# Behind PgBouncer in transaction pooling mode (DB_PGBOUNCER=1): no server-side cursors, since
# a cursor opened in one transaction may be fetched on another server connection.
DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = env.bool(
    "DB_DISABLE_SERVER_SIDE_CURSORS", default=env.bool("DB_PGBOUNCER", default=False)
)
# psycopg's connection pool in each process (DB_POOL=1; Django 5.2 OPTIONS["pool"]): the choice when no
# PgBouncer sits in front of PostgreSQL and workers run threads (gthread). Connections are taken per
# request and given back, so CONN_MAX_AGE is 0 (DB_CONN_MAX_AGE is ignored). With DB_CONN_HEALTH_CHECKS Django
# has the pool test a connection before lending it (the same one round trip), so a database restart costs no
# failed request either; DB_POOL_TIMEOUT bounds the wait for a free connection (then a 503).
if env.bool("DB_POOL", default=False):
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": env.int("DB_POOL_MIN_SIZE", default=1),
        "max_size": env.int("DB_POOL_MAX_SIZE", default=4),
        "timeout": env.float("DB_POOL_TIMEOUT", default=5.0),
    }
# Streaming read replica (optional): catalog reads go there, the rest to the primary
# (bookwise/db_router.py). A user's reads stay on the primary this long after their own write.
REPLICA_STICKY_SECONDS = env.int("REPLICA_STICKY_SECONDS", default=5)
if env.str("DATABASE_REPLICA_URL", default=""):
    DATABASES["replica"] = env.db_url("DATABASE_REPLICA_URL")
    for _key in ("CONN_MAX_AGE", "CONN_HEALTH_CHECKS"):
        DATABASES["replica"][_key] = DATABASES["default"][_key]
    DATABASES["replica"].setdefault("OPTIONS", {})["connect_timeout"] = DATABASES["default"]["OPTIONS"][
        "connect_timeout"
    ]
    if "pool" in DATABASES["default"]["OPTIONS"]:  # DB_POOL: a pool of its own, same sizes
        DATABASES["replica"]["OPTIONS"]["pool"] = dict(DATABASES["default"]["OPTIONS"]["pool"])
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
    DATABASE_ROUTERS = ["bookwise.db_router.ReplicaRouter"]
    MIDDLEWARE.insert(
        MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1,
        "bookwise.db_router.ReadYourWritesMiddleware",
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache (throttles), Celery broker ----------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
# Seconds to connect to, or wait for an answer from, Redis (cache and broker):
# a hung Redis costs a request at most this, then the cache fails open and
# the outbox keeps the task for its sweeper.
REDIS_SOCKET_TIMEOUT = env.float("REDIS_SOCKET_TIMEOUT", default=0.5)
if REDIS_URL:
    # Fails open: Redis down -> a per-process in-memory cache and a logged warning (bookwise/cache.py).
    CACHES = {
        "default": {
            "BACKEND": "bookwise.cache.FailOpenRedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": REDIS_SOCKET_TIMEOUT, "socket_timeout": REDIS_SOCKET_TIMEOUT},
        }
    }
else:
    # Development only (DEBUG on, below): a lone process with its own throttle counters.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Seconds anonymous catalog reads (the catalog page, GET /api/v1/themes/, a theme, its slots) are served
# from the cache (bookwise/response_cache.py); 0 turns it off. Seats shown may be this stale: a join
# re-counts them under the slot lock, so nothing is oversold.
CATALOG_CACHE_SECONDS = env.int("CATALOG_CACHE_SECONDS", default=5)
if not 0 <= CATALOG_CACHE_SECONDS <= 60:
    raise ImproperlyConfigured("CATALOG_CACHE_SECONDS must be between 0 and 60.")

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
if not DEBUG:
    # Without Redis each process counts its own throttles, and a memory:// broker
    # keeps tasks in the process that queued them: refunds and emails never run.
    if not REDIS_URL:
        raise ImproperlyConfigured(
            "REDIS_URL must be set when DEBUG is off (production): throttles need a shared cache."
        )
    if CELERY_BROKER_URL.startswith("memory://"):
        raise ImproperlyConfigured(
            "CELERY_BROKER_URL must name a real broker when DEBUG is off (production): memory:// loses every task."
        )
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # Must exceed the longest countdown/ETA/retry delay, or Redis redelivers the
    # task while it is still waiting (see payments/tasks.py for the longest one).
    # Also how long a task of a killed worker (the whole worker, not a pool
    # process) waits before Redis hands it to another worker.
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
    # Publishing (a request's after-commit hook): one connection attempt and
    # short socket timeouts, so a down or hung broker fails the publish in well
    # under a second; the outbox row stays pending for the sweeper.
    "max_retries": 0,
    "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
    "socket_timeout": REDIS_SOCKET_TIMEOUT,
}
# Plain .delay()/apply_async (not through the outbox): one quick retry, then fail.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
# Transactional outbox (bookwise/outbox.py): how often the sweeper publishes
# what the after-commit hook could not, and how long sent rows are kept.
OUTBOX_SWEEP_SECONDS = env.int("OUTBOX_SWEEP_SECONDS", default=10)
OUTBOX_RETENTION_HOURS = env.int("OUTBOX_RETENTION_HOURS", default=168)
# A row the broker took but whose task never reported done (Redis lost the message, a
# restart without persistence) is published again after this many seconds, at most
# OUTBOX_MAX_ATTEMPTS times in all. Longer than a task's whole retry chain (~25 min).
OUTBOX_REDELIVER_SECONDS = env.int("OUTBOX_REDELIVER_SECONDS", default=3600)
OUTBOX_MAX_ATTEMPTS = env.int("OUTBOX_MAX_ATTEMPTS", default=10)
# CELERY_BEAT_SCHEDULE: below, after the settings it reads.

# --- Auth ---------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("email", "full_name")},
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Seconds a password-reset link stays valid.
PASSWORD_RESET_TIMEOUT = 3600
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

# --- Internationalisation -------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Uploaded files (theme photos). Development: the filesystem under MEDIA_ROOT, served by Django at
# MEDIA_URL. Production: an S3-compatible bucket through django-storages when AWS_STORAGE_BUCKET_NAME is set.
MEDIA_URL = env.str("MEDIA_URL", default="/media/")
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(BASE_DIR / ".data" / "media"))
AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
AWS_S3_ENDPOINT_URL = env.str("AWS_S3_ENDPOINT_URL", default="") or None
AWS_S3_REGION_NAME = env.str("AWS_S3_REGION_NAME", default="") or None
AWS_S3_CUSTOM_DOMAIN = env.str("AWS_S3_CUSTOM_DOMAIN", default="") or None
AWS_ACCESS_KEY_ID = env.str("AWS_ACCESS_KEY_ID", default="") or None
AWS_SECRET_ACCESS_KEY = env.str("AWS_SECRET_ACCESS_KEY", default="") or None
AWS_QUERYSTRING_AUTH = env.bool("AWS_QUERYSTRING_AUTH", default=False)
AWS_DEFAULT_ACL = None
STORAGES = {
    "default": {
        "BACKEND": "storages.backends.s3.S3Storage"
        if AWS_STORAGE_BUCKET_NAME
        else "django.core.files.storage.FileSystemStorage"
    },
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- Security (production) ------------------------------------------------------
# How many proxies in front of the app (1 on Fly.io). Each appends the client address
# to X-Forwarded-For (throttles key on it, REST_FRAMEWORK below) and the last one sets
# X-Forwarded-Proto. With 0 both headers could only come from the client: ignored.
NUM_PROXIES = env.int("NUM_PROXIES", default=0)
if NUM_PROXIES > 0:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
# The booking widget's pages run in an iframe on merchants' sites, where BookWise is a third party:
# its session and CSRF cookies reach that frame only as SameSite=None (which browsers accept only
# with Secure), and survive third-party cookie blocking only when Partitioned (CHIPS, bookwise/cookies.py).
# One cookie serves the site and the widget, so this is global; POSTs stay protected by Django's CSRF
# token and Origin check (a frame's requests carry BookWise's own Origin), and with Partitioned the
# session someone has on BookWise itself is never sent into a frame on another site.
# Without Secure cookies (development, plain http) the default is Lax: the widget shows times, but logging
# in inside it needs COOKIE_SAMESITE=None and both *_COOKIE_SECURE=True (browsers allow Secure on localhost).
COOKIE_SAMESITE = env.str("COOKIE_SAMESITE", default="None" if SESSION_COOKIE_SECURE and CSRF_COOKIE_SECURE else "Lax")
if COOKIE_SAMESITE not in ("Lax", "Strict", "None"):
    raise ImproperlyConfigured("COOKIE_SAMESITE must be Lax, Strict or None.")
if COOKIE_SAMESITE == "None" and not (SESSION_COOKIE_SECURE and CSRF_COOKIE_SECURE):
    raise ImproperlyConfigured(
        "COOKIE_SAMESITE=None needs SESSION_COOKIE_SECURE and CSRF_COOKIE_SECURE: browsers drop such cookies otherwise."
    )
SESSION_COOKIE_SAMESITE = CSRF_COOKIE_SAMESITE = COOKIE_SAMESITE
COOKIE_PARTITIONED = env.bool("COOKIE_PARTITIONED", default=COOKIE_SAMESITE == "None")
# HSTS (sent on HTTPS responses only): browsers then refuse plain HTTP to this host.
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
# Preloading ships the host in browsers' built-in lists, which takes months to undo:
# an owner's explicit choice. While it is off, check --deploy's reminder (W021) is silenced.
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp 4). No inline script or style anywhere: pages
# load static/js and static/css and pass values in data- attributes.
# bookwise.csp.CSPMiddleware adds the Stripe.js origins of STRIPE_JS_URL to script-src
# and connect-src, and makes them the only frame-src, so the policy follows that setting.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
# Theme photos stored in a bucket (or behind a CDN) are shown from that origin.
CONTENT_SECURITY_POLICY["DIRECTIVES"]["img-src"] += media_origins(
    media_url=MEDIA_URL,
    bucket=AWS_STORAGE_BUCKET_NAME,
    custom_domain=AWS_S3_CUSTOM_DOMAIN,
    endpoint_url=AWS_S3_ENDPOINT_URL,
    region=AWS_S3_REGION_NAME,
)

# --- Email ----------------------------------------------------------------------
EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="BookWise <no-reply@bookwise.local>")

# --- Booking rules --------------------------------------------------------------
BOOKING_HOLD_MINUTES = env.int("BOOKING_HOLD_MINUTES", default=15)
BOOKING_MAX_UNPAID_HOLDS = env.int("BOOKING_MAX_UNPAID_HOLDS", default=5)
# Most free bookings one customer may hold on slots still to come (free seats cost nothing to hoard).
BOOKING_MAX_FREE_HOLDS = env.int("BOOKING_MAX_FREE_HOLDS", default=10)
BOOKING_EXPIRE_SWEEP_SECONDS = env.int("BOOKING_EXPIRE_SWEEP_SECONDS", default=60)
# Local hour (0-23, merchant's timezone) from which the "tomorrow's schedule" email goes out.
MERCHANT_SCHEDULE_EMAIL_HOUR = env.int("MERCHANT_SCHEDULE_EMAIL_HOUR", default=18)
# Minutes a waitlist offer (a pending_payment booking made for the next party that fits) holds its seats.
WAITLIST_OFFER_MINUTES = env.int("WAITLIST_OFFER_MINUTES", default=30)
# Seconds between runs of the reminder sweep (bookings.reminders: before the start, and "how was it?" after).
REMINDER_SWEEP_SECONDS = env.int("REMINDER_SWEEP_SECONDS", default=300)
SLOT_BULK_MAX = 1000

# --- REST API -------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.SessionJWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_PAGINATION_CLASS": "bookwise.pagination.DefaultPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "bookwise.errors.api_exception_handler",
    # JSON only: DRF's browsable API pages carry inline styles that the Content-Security-Policy
    # refuses. /api/v1/docs/ (Swagger UI) is the page for trying the API in a browser.
    # orjson, byte-for-byte DRF's JSON output (bookwise/renderers.py); forms and uploads as DRF's defaults.
    "DEFAULT_RENDERER_CLASSES": ["bookwise.renderers.ORJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "bookwise.renderers.ORJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "login": env.str("THROTTLE_LOGIN", default="10/minute"),
        "login_email": env.str("THROTTLE_LOGIN_EMAIL", default="5/minute"),
        "register": env.str("THROTTLE_REGISTER", default="20/hour"),
        "register_email": env.str("THROTTLE_REGISTER_EMAIL", default="5/hour"),
        # Portal password-reset requests (each may send an email): per client IP and per address.
        "password_reset": env.str("THROTTLE_PASSWORD_RESET", default="10/hour"),
        "password_reset_email": env.str("THROTTLE_PASSWORD_RESET_EMAIL", default="5/hour"),
        "refresh": env.str("THROTTLE_REFRESH", default="60/minute"),
        "join": env.str("THROTTLE_JOIN", default="60/minute"),
        # Card payments (portal pay, API payments/create), per user and per client IP: card testing.
        "pay": env.str("THROTTLE_PAY", default="10/minute"),
    },
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    # 0 ignores X-Forwarded-For, so a client cannot fake its IP to dodge throttles.
    "NUM_PROXIES": NUM_PROXIES,
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=7)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    "SIGNING_KEY": env.str("JWT_SIGNING_KEY", default=SECRET_KEY),
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
}
if not DEBUG and SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"] > timedelta(minutes=15):
    raise ImproperlyConfigured("JWT_ACCESS_MINUTES must be 15 or less.")
# Seconds the API keeps a token's user in the cache instead of reading it per request (accounts/user_cache.py);
# 0 reads it every time. Changes made outside Django (raw SQL) show after this long at most.
AUTH_USER_CACHE_SECONDS = env.int("AUTH_USER_CACHE_SECONDS", default=60)
if not 0 <= AUTH_USER_CACHE_SECONDS <= SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"].total_seconds():
    raise ImproperlyConfigured("AUTH_USER_CACHE_SECONDS must be between 0 and the access-token lifetime.")
# A refresh-token family (one login) lives at most this long, however often it is rotated.
JWT_REFRESH_FAMILY_MAX_DAYS = env.int("JWT_REFRESH_FAMILY_MAX_DAYS", default=30)
if JWT_REFRESH_FAMILY_MAX_DAYS < 1:
    raise ImproperlyConfigured("JWT_REFRESH_FAMILY_MAX_DAYS must be at least 1.")

SPECTACULAR_SETTINGS = {
    "TITLE": "BookWise API",
    "DESCRIPTION": "Book time-boxed experiences with limited places.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    # No validator badge: it would send the schema's URL to validator.swagger.io (and the CSP blocks its image).
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "BookingStatusEnum": "bookings.models.BookingStatus",
        "MerchantStatusEnum": "merchants.models.MerchantStatus",
        "SlotStatusEnum": "catalog.models.SlotStatus",
        "PaymentStatusEnum": "payments.models.PaymentStatus",
    },
}

# --- Stripe / dj-stripe -----------------------------------------------------------
STRIPE_LIVE_MODE = env.bool("STRIPE_LIVE_MODE", default=False)


def _stripe_secret(name: str, value: str, development_default: str) -> str:
    """`value`; with DEBUG on, the public development default when unset. Production refuses both gaps."""
    if DEBUG:
        return value or development_default
    if not value:
        raise ImproperlyConfigured(f"{name} must be set when DEBUG is off (production).")
    if value == development_default:
        raise ImproperlyConfigured(
            f"{name} is the public development default: set your own value when DEBUG is off (production)."
        )
    return value


# The defaults are public (scripts/dev.py gives them to the embedded localstripe): development only.
STRIPE_SECRET_KEY = _stripe_secret(
    "STRIPE_SECRET_KEY", env.str("STRIPE_SECRET_KEY", default=""), "sk_test_BookWiseLocalDevelopmentKey000"
)
STRIPE_TEST_SECRET_KEY = STRIPE_SECRET_KEY
STRIPE_PUBLISHABLE_KEY = _stripe_secret(
    "STRIPE_PUBLISHABLE_KEY", env.str("STRIPE_PUBLISHABLE_KEY", default=""), "pk_test_BookWiseLocalDevelopmentKey000"
)
STRIPE_WEBHOOK_SECRET = _stripe_secret(
    "STRIPE_WEBHOOK_SECRET", env.str("STRIPE_WEBHOOK_SECRET", default=""), "whsec_bookwise_local_development"
)
# Set to localstripe's address in development and tests (e.g. http://127.0.0.1:8420);
# empty means the real api.stripe.com.
_stripe_api_host = env.str("STRIPE_API_HOST", default="")
if _stripe_api_host:
    STRIPE_API_HOST = _stripe_api_host
# Where the browser loads Stripe.js from (localstripe serves a stand-in).
STRIPE_JS_URL = env.str(
    "STRIPE_JS_URL",
    default=f"{_stripe_api_host}/js.stripe.com/v3/" if _stripe_api_host else "https://js.stripe.com/v3/",
)
# The signing secret of the endpoint for events on the merchants' connected accounts
# (Stripe Connect: `account.updated`). Optional: without it a merchant's account status is
# read from Stripe when the merchant returns from onboarding (README, "Getting paid").
STRIPE_CONNECT_WEBHOOK_SECRET = env.str("STRIPE_CONNECT_WEBHOOK_SECRET", default="")
STRIPE_WEBHOOK_TOLERANCE = env.int("STRIPE_WEBHOOK_TOLERANCE", default=300)
# Every Stripe call (ours in payments.services, and dj-stripe's through the SDK's
# module-level client): the HTTP timeout, which also bounds how long the
# intent-creation request waits.
STRIPE_TIMEOUT_SECONDS = env.int("STRIPE_TIMEOUT_SECONDS", default=10)
# Reconciliation (checkout.tasks.reconcile_pending_payments): how often, and how
# long after a booking expired or was cancelled its intent is still re-read.
PAYMENT_RECONCILE_SECONDS = env.int("PAYMENT_RECONCILE_SECONDS", default=300)
PAYMENT_RECONCILE_WINDOW_HOURS = env.int("PAYMENT_RECONCILE_WINDOW_HOURS", default=24)
# Refunds Stripe left `pending` (settled later by `charge.refunded`) are re-read from Stripe
# once they have waited this long (payments.tasks.reconcile_pending_refunds, on the same beat).
REFUND_RECONCILE_MINUTES = env.int("REFUND_RECONCILE_MINUTES", default=30)
# Payouts (Stripe Connect Express, payments/payouts): the platform's fee in basis points
# (1000 = 10 %; admins override it per merchant), how long after a slot ends its bookings'
# money is transferred, and how often the transfer sweep runs.
PLATFORM_FEE_BPS = env.int("PLATFORM_FEE_BPS", default=1000)
if not 0 <= PLATFORM_FEE_BPS <= 10000:
    raise ImproperlyConfigured("PLATFORM_FEE_BPS must be between 0 and 10000 (basis points).")
PAYOUT_DELAY_HOURS = env.int("PAYOUT_DELAY_HOURS", default=24)
PAYOUT_SWEEP_SECONDS = env.int("PAYOUT_SWEEP_SECONDS", default=900)
# How often slots past their minimum-players deadline and still below the minimum are cancelled.
MINIMUM_PLAYERS_SWEEP_SECONDS = env.int("MINIMUM_PLAYERS_SWEEP_SECONDS", default=300)

# Periodic tasks. django-celery-beat's DatabaseScheduler copies these into its
# tables at start (admins can then pause or re-time them). `expires` drops runs
# that queued up while no worker was there: the next run does the same work.
CELERY_BEAT_SCHEDULE = {
    "expire-due-bookings": {
        "task": "bookings.tasks.expire_due_bookings",
        "schedule": float(BOOKING_EXPIRE_SWEEP_SECONDS),
        "options": {"expires": BOOKING_EXPIRE_SWEEP_SECONDS},
    },
    "reconcile-pending-payments": {
        "task": "checkout.tasks.reconcile_pending_payments",
        "schedule": float(PAYMENT_RECONCILE_SECONDS),
        "options": {"expires": PAYMENT_RECONCILE_SECONDS},
    },
    "reconcile-pending-refunds": {
        "task": "payments.tasks.reconcile_pending_refunds",
        "schedule": float(PAYMENT_RECONCILE_SECONDS),
        "options": {"expires": PAYMENT_RECONCILE_SECONDS},
    },
    # Slots still below their theme's minimum players at the deadline (checkout.services): safe to run twice.
    "cancel-slots-below-minimum": {
        "task": "checkout.tasks.cancel_slots_below_minimum",
        "schedule": float(MINIMUM_PLAYERS_SWEEP_SECONDS),
        "options": {"expires": MINIMUM_PLAYERS_SWEEP_SECONDS},
    },
    "outbox-sweep": {
        "task": "bookwise.tasks.outbox_sweep",
        "schedule": float(OUTBOX_SWEEP_SECONDS),
        "options": {"expires": OUTBOX_SWEEP_SECONDS},
    },
    # Emails to merchants (bookings.merchant_notifications): both safe to run twice.
    "merchant-booking-digests": {
        "task": "bookings.tasks.send_merchant_booking_digests",
        "schedule": crontab(minute=0),
        "options": {"expires": 3000},
    },
    "merchant-daily-schedules": {
        "task": "bookings.tasks.send_merchant_daily_schedules",
        "schedule": crontab(minute=5),
        "options": {"expires": 3000},
    },
    # Reminders before the start and "how was it?" after (bookings.reminders): each sent once, safe to run twice.
    "send-booking-reminders": {
        "task": "bookings.tasks.send_booking_reminders",
        "schedule": float(REMINDER_SWEEP_SECONDS),
        "options": {"expires": REMINDER_SWEEP_SECONDS},
    },
    # "How was it?" after an attended booking (reviews.review_requests: it skips customers who already reviewed,
    # which the booking engine must not read): once per customer and theme, safe to run twice.
    "send-review-requests": {
        "task": "reviews.tasks.send_review_requests",
        "schedule": float(REMINDER_SWEEP_SECONDS),
        "options": {"expires": REMINDER_SWEEP_SECONDS},
    },
    # Transfers of bookings whose experience is over (payments.transfers): safe to run twice and concurrently.
    "transfer-due-bookings": {
        "task": "payments.tasks.transfer_due_bookings",
        "schedule": float(PAYOUT_SWEEP_SECONDS),
        "options": {"expires": PAYOUT_SWEEP_SECONDS},
    },
    # The merchant's transfers of its past local day (payments.notifications): once per merchant and day.
    "payout-transfer-digests": {
        "task": "payments.tasks.send_transfer_digests",
        "schedule": crontab(minute=20),
        "options": {"expires": 3000},
    },
}
DJSTRIPE_FOREIGN_KEY_TO_FIELD = "id"
DJSTRIPE_WEBHOOK_VALIDATION = "verify_signature"
DJSTRIPE_USE_NATIVE_JSONFIELD = True
SILENCED_SYSTEM_CHECKS = env.list(
    "SILENCED_SYSTEM_CHECKS",
    default=(["djstripe.W002"] if _stripe_api_host else []) + ([] if SECURE_HSTS_PRELOAD else ["security.W021"]),
)

# --- Logging --------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
