"""One settings module, read from the environment through small strict helpers.

SQLite (WAL) is the default so that a fresh checkout runs with nothing else;
`DATABASE_URL=postgres://user@host/db` selects PostgreSQL.
"""

import os
from pathlib import Path
from typing import Any

import dj_database_url
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent
VAR_DIR = Path(os.environ.get("AUDITCOACH_VAR_DIR", BASE_DIR.parent.parent / "var"))


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"{name} must be a boolean (1/0, true/false), got {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
DEV_SECRET_KEY = "dev-only-insecure-key-change-me"
SECRET_KEY_FROM_ENVIRONMENT = bool(os.environ.get("SECRET_KEY"))
SECRET_KEY = env_str("SECRET_KEY", DEV_SECRET_KEY if DEBUG else "")
if not SECRET_KEY:
    # Management commands that never serve pages (score, import) still need a key; the WSGI
    # application, `auditcoach serve` and `check --deploy` refuse this one (auditcoach.ops.checks).
    SECRET_KEY = "not-for-serving-" + str(BASE_DIR)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "django_tasks_db",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "auditcoach.accounts",
    "auditcoach.auditlog",
    "auditcoach.codesets",
    "auditcoach.audits",
    "auditcoach.coaching",
    "auditcoach.library",
    "auditcoach.notifications",
    "auditcoach.education",
    "auditcoach.analytics",
    "auditcoach.overreads",
    "auditcoach.ops",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "auditcoach.ops.middleware.RequestLogMiddleware",
    "auditcoach.ops.middleware.SecurityHeadersMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "auditcoach.ops.sessions.IdleSessionMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "auditcoach.accounts.middleware.TenancyMiddleware",
    # Last, so that it wraps every view: the audit log's client address (auditlog.context).
    "auditcoach.auditlog.context.AuditContextMiddleware",
]

ROOT_URLCONF = "auditcoach.urls"
WSGI_APPLICATION = "auditcoach.wsgi.application"

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
                "django.template.context_processors.csp",
                "auditcoach.accounts.context_processors.tenancy",
                "auditcoach.notifications.context_processors.notifications",
            ],
        },
    },
]

DATABASE_URL = env_str("DATABASE_URL", "")
if not DATABASE_URL:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASE_URL = f"sqlite:///{VAR_DIR / 'db.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["ENGINE"] = "auditcoach.ops.sqlite"  # Django's, minus a probe
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets readers work while an import writes; IMMEDIATE avoids upgrade deadlocks.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        # How long a write waits for SQLite's one write lock before "database is locked":
        # a page answers 503 then (auditcoach.ops.views.server_error), the worker retries
        # with backoff (auditcoach.ops.dblock), a CLI import exits 2 (docs/operations.md).
        "timeout": env_int("SQLITE_BUSY_TIMEOUT_SECONDS", 5),
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

# Background work: Django's tasks with the database backend (`auditcoach db_worker` runs
# them; bin/demo starts one). Tests use the Immediate backend, which runs tasks inline.
TASKS = {
    "default": {
        "BACKEND": env_str("TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
    }
}

# A file cache is shared by the web and worker processes and lives outside database
# transactions, so an import's progress is visible while its transaction is still open.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": env_str("CACHE_DIR", str(VAR_DIR / "cache")),
        "OPTIONS": {"MAX_ENTRIES": 100_000},
    }
}

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
# All of Django's validators: every place a password is set (invitations, user-add) runs them.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"

SESSION_COOKIE_AGE = env_int("SESSION_TIMEOUT_SECONDS", 8 * 3600)
# Sessions are written only when they change: a page load never waits on the database's
# write lock (on SQLite a large import holds it for minutes), so the timeout is absolute.
SESSION_SAVE_EVERY_REQUEST = False
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# Idle timeout beside the absolute one: the last activity is rewritten at most once a
# minute (auditcoach.ops.sessions), so page loads still rarely write. 0 turns it off.
SESSION_IDLE_TIMEOUT_SECONDS = env_int("SESSION_IDLE_TIMEOUT_SECONDS", 30 * 60)
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

# HTTPS=1 behind a TLS-terminating proxy that sets X-Forwarded-Proto (and drops the
# client's own): Secure cookies, HSTS for a year with subdomains, redirect to https.
HTTPS = env_bool("HTTPS", False)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # a load balancer's health check may speak plain HTTP
SECURE_HSTS_SECONDS = 365 * 24 * 3600 if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SILENCED_SYSTEM_CHECKS = [
    # HSTS preload is a commitment the owner of the domain makes on hstspreload.org, for
    # every subdomain, and hard to undo: not something a default should opt into.
    "security.W021",
]

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"
# WhiteNoise serves the collected files: hashed names, gzip, cached for years. In
# development (DEBUG=1) the plain storage serves straight from the source folders. Tests
# use the plain storage too (tests/conftest.py): they never run collectstatic.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

MEDIA_ROOT = VAR_DIR / "media"
DATA_UPLOAD_MAX_MEMORY_SIZE = 50 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
# Hostile uploads: caps on an imported workbook (docs/uploads.md).
IMPORT_MAX_UPLOAD_BYTES = env_int("IMPORT_MAX_UPLOAD_BYTES", 200 * 1024 * 1024)
IMPORT_CHECK_IN_REQUEST_BYTES = env_int("IMPORT_CHECK_IN_REQUEST_BYTES", 5 * 1024 * 1024)
# An 837 is validated by pyx12 at about 180 claims a second: above this the worker checks it.
IMPORT_CHECK_CLAIMS_IN_REQUEST_BYTES = env_int("IMPORT_CHECK_CLAIMS_IN_REQUEST_BYTES", 256 * 1024)
IMPORT_MAX_UNPACKED_BYTES = env_int("IMPORT_MAX_UNPACKED_BYTES", 2048 * 1024 * 1024)
IMPORT_MAX_UNPACKED_TOTAL_BYTES = env_int("IMPORT_MAX_UNPACKED_TOTAL_BYTES", 4096 * 1024 * 1024)
IMPORT_MAX_COMPRESSION_RATIO = env_int("IMPORT_MAX_COMPRESSION_RATIO", 100)
IMPORT_MAX_ARCHIVE_MEMBERS = env_int("IMPORT_MAX_ARCHIVE_MEMBERS", 1000)
IMPORT_MAX_ENCOUNTER_ROWS = env_int("IMPORT_MAX_ENCOUNTER_ROWS", 1_000_000)
IMPORT_MAX_CODE_ROWS = env_int("IMPORT_MAX_CODE_ROWS", 2_000_000)
IMPORT_MAX_LINES_PER_VERSION = env_int("IMPORT_MAX_LINES_PER_VERSION", 500)
# An 837 or FHIR file takes about 40 times its size in memory while pyx12 / fhir.resources
# read it (bench/README.md, intake): 40 MB of claims (about 90,000) is about 1.6 GB.
IMPORT_MAX_CLAIMS_BYTES = env_int("IMPORT_MAX_CLAIMS_BYTES", 40 * 1024 * 1024)
# `auditcoach sample` reads a frame or sample file of at most this many bytes (docs/sampling.md).
SAMPLE_MAX_FILE_BYTES = env_int("SAMPLE_MAX_FILE_BYTES", 256 * 1024 * 1024)
# A running import job renews its lease in the cache every sixth of this; a job whose lease
# is older was left by a worker that died (killed, out of memory, the machine restarted) and
# is marked stalled (audits.services.import_jobs_reap). A job that finds another import
# writing waits its turn, with backoff, for at most IMPORT_WAIT_SECONDS.
IMPORT_LEASE_SECONDS = env_int("IMPORT_LEASE_SECONDS", 120)
IMPORT_WAIT_SECONDS = env_int("IMPORT_WAIT_SECONDS", 1800)

# Console by default; SMTP (or any backend) from the environment: EMAIL_BACKEND, and for
# SMTP EMAIL_HOST, EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD, EMAIL_USE_TLS.
EMAIL_BACKEND_PATH = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
MAILERS: dict[str, dict[str, Any]] = {"default": {"BACKEND": EMAIL_BACKEND_PATH}}
if EMAIL_BACKEND_PATH.endswith("smtp.EmailBackend"):
    MAILERS["default"]["OPTIONS"] = {
        "host": env_str("EMAIL_HOST", "localhost"),
        "port": env_int("EMAIL_PORT", 587),
        "username": env_str("EMAIL_HOST_USER", ""),
        "password": env_str("EMAIL_HOST_PASSWORD", ""),
        "use_tls": env_bool("EMAIL_USE_TLS", True),
        "timeout": env_int("EMAIL_TIMEOUT", 20),
    }
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "auditcoach@localhost")

# Sign-in throttle (accounts/throttle.py, docs/signin.md).
LOGIN_RATE_LIMIT = env_int("LOGIN_RATE_LIMIT", 10)  # failures per username per window
LOGIN_ADDRESS_RATE_LIMIT = env_int("LOGIN_ADDRESS_RATE_LIMIT", 30)  # per client address
LOGIN_RATE_WINDOW_SECONDS = env_int("LOGIN_RATE_WINDOW_SECONDS", 15 * 60)
KNOWN_DEVICE_DAYS = env_int("KNOWN_DEVICE_DAYS", 180)  # the "known device" cookie's life
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT_SECONDS", 3600)  # reset links
PASSWORD_RESET_RATE_LIMIT = env_int("PASSWORD_RESET_RATE_LIMIT", 3)  # e-mails per address/hour
PASSWORD_RESET_ADDRESS_RATE_LIMIT = env_int("PASSWORD_RESET_ADDRESS_RATE_LIMIT", 20)
OTP_TOTP_ISSUER = "AuditCoach"  # the name authenticator apps show
# An invitation link works once and for this many days (docs/people.md).
INVITATION_TTL_DAYS = env_int("INVITATION_TTL_DAYS", 7)
if not 1 <= INVITATION_TTL_DAYS <= 90:
    raise ValueError(f"INVITATION_TTL_DAYS must be 1 to 90, got {INVITATION_TTL_DAYS}")

# One JSON object per line on stderr (auditcoach.lib.jsonlog): a line per request and per
# task run at INFO (auditcoach.requests, auditcoach.tasks), everything else from WARNING.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "auditcoach.lib.jsonlog.JsonFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
    "loggers": {
        "auditcoach": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # auditcoach.tasks replaces Django's own task lines, whose failure traceback may quote
        # the data a task worked on; the traceback stays in the task's result in the database.
        "django.tasks": {"handlers": [], "level": "CRITICAL", "propagate": False},
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "WARNING")},
}
