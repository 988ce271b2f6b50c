"""Siyu settings: everything comes from the environment (see README "Configuration").

SIYU_ENV=production makes SECRET_KEY, DATABASE_URL, REDIS_URL and ALLOWED_HOSTS required.
In development, the secret key is the per-checkout one under var/ and the embedded PostgreSQL/Redis
are used when DATABASE_URL/REDIS_URL are not set. Importing this module starts and writes nothing:
the entry points (manage.py, wsgi, Celery worker and beat, the test run) create the key and start
the servers; see scrm/embedded.py.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

from scrm import embedded, env

BASE_DIR = Path(__file__).resolve().parent.parent

SIYU_ENV = env.get_choice("SIYU_ENV", "development", ("development", "production", "test"))
PRODUCTION = SIYU_ENV == "production"
DEBUG = env.get_bool("DEBUG", default=SIYU_ENV == "development")


def _secret_key() -> str:
    if PRODUCTION:
        key = env.get_str("SECRET_KEY")
        if len(key) < 32:
            raise env.SettingsError("SECRET_KEY: must be at least 32 characters in production")
        return key
    value = env.get_str("SECRET_KEY", "")
    if value:
        return value
    # The per-checkout random key, never committed (production can never pick it up), created by the
    # entry points. Before one has, this process gets a key of its own that is not written down.
    return embedded.read_secret_key() or secrets.token_urlsafe(50)


SECRET_KEY = _secret_key()

ALLOWED_HOSTS = env.get_list("ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "[::1]", "testserver"])
if PRODUCTION and not ALLOWED_HOSTS:
    raise env.SettingsError("ALLOWED_HOSTS is required in production (comma-separated host names)")
CSRF_TRUSTED_ORIGINS = env.get_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "csp",
    "scrm",
    "members",
    "members.segments",
    "members.io",
    "loyalty.orders",
    "loyalty.tiers",
    "loyalty.points",
    "loyalty.referrals",
    "wecom",
    "insights",
    "communities",
    "koc",
    "campaigns",
    "campaigns.links",
    "campaigns.replies",
    "journeys",
    "journeys.calendar",
    "appointments",
    "webhooks",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "scrm.middleware.SessionExpiryMiddleware",
    "scrm.middleware.RequireOTPMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "scrm.api.errors.ApiErrorMiddleware",
    "scrm.api.middleware.ApiInputMiddleware",
    "scrm.middleware.ServiceErrorMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks: it turns a lockout into its page
]

# Static files straight from the app server (gunicorn in `up` and in the image), with far-future
# caching of the hashed files in production; outside production they are found where they live.
MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")
# Inside WhiteNoise, so static files keep their caching and everything the app answers does not.
MIDDLEWARE.insert(2, "scrm.middleware.NoStoreMiddleware")
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = DEBUG

ROOT_URLCONF = "scrm.urls"
WSGI_APPLICATION = "scrm.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "scrm.context_processors.siyu",
            ],
        },
    },
]

# --- Database and broker -------------------------------------------------------------------
# Not configured outside production: the embedded servers' addresses under var/. Only computed here;
# the entry points start the servers (scrm.embedded.prepare) before they connect.
if PRODUCTION:
    _database_url, _redis_url = env.get_str("DATABASE_URL"), env.get_str("REDIS_URL")
else:
    _embedded = embedded.urls()
    _database_url = env.get_str("DATABASE_URL", _embedded["DATABASE_URL"])
    _redis_url = env.get_str("REDIS_URL", _embedded["REDIS_URL"])
REDIS_URL = env.parse_redis_url(_redis_url)

DATABASES = {"default": env.parse_database_url(_database_url)}
DATABASES["default"]["CONN_MAX_AGE"] = env.get_int("DB_CONN_MAX_AGE", 60, minimum=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Separate test databases let several test runs share one server (TEST_DATABASE_NAME=test_siyu_b).
DATABASES["default"].setdefault("TEST", {})["NAME"] = env.get_str("TEST_DATABASE_NAME", "test_siyu")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "scrm.User"

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env.get_str("CACHE_KEY_PREFIX", "siyu"),
        "TIMEOUT": 300,
    }
}

# --- Auth -----------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# django-axes first: it refuses a locked-out login before the password is checked (scrm.auth).
AUTHENTICATION_BACKENDS = ["scrm.auth.LockoutBackend", "django.contrib.auth.backends.ModelBackend"]

# Login throttling (django-axes): LOGIN_FAILURE_LIMIT wrong passwords for one username from one
# address lock that pair out for LOGIN_LOCKOUT_MINUTES; a right password resets the count. Unlock
# with `manage.py axes_reset_username NAME`, `axes_reset_ip IP` or the access attempts in the admin.
AXES_FAILURE_LIMIT = env.get_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env.get_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "scrm.auth.lockout_response"
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False
# Access logs (who signed in, from which address and browser) are kept this many days, then pruned
# every night (scrm.tasks.prune_access_logs).
SIYU_ACCESS_LOG_RETENTION_DAYS = env.get_int("SIYU_ACCESS_LOG_RETENTION_DAYS", 30, minimum=1)

# Second factor for operators (django-otp TOTP): optional, enrolled from the account page; once a
# staff account has a device it must enter a code after its password. OTP_REQUIRED_FOR_OPERATORS
# makes it mandatory (an operator without a device is sent to enrol first).
OTP_REQUIRED_FOR_OPERATORS = env.get_bool("OTP_REQUIRED_FOR_OPERATORS", False)
OTP_TOTP_ISSUER = env.get_str("SIYU_BRAND_NAME", "Siyu")

# Sessions end after SESSION_IDLE_TIMEOUT seconds without a request and SESSION_ABSOLUTE_TIMEOUT
# seconds after login, whichever comes first (scrm.middleware.SessionExpiryMiddleware).
# A 1,000-item bulk upsert with rich attributes fits; files go through uploads, not this limit.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.get_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 10 * 1024 * 1024, minimum=1024)
SESSION_COOKIE_AGE = env.get_int("SESSION_COOKIE_AGE", 60 * 60 * 12, minimum=300)
SESSION_IDLE_TIMEOUT = env.get_int("SESSION_IDLE_TIMEOUT", 30 * 60, minimum=60)
# Full member phones shown on request ("Show phone", POST /members/{id}/reveal/) per actor per hour.
MEMBER_REVEALS_PER_HOUR = env.get_int("MEMBER_REVEALS_PER_HOUR", 50, minimum=1)
MEMBER_REVEALS_PER_HOUR_BRAND = env.get_int("MEMBER_REVEALS_PER_HOUR_BRAND", 500, minimum=1)
SESSION_ABSOLUTE_TIMEOUT = env.get_int("SESSION_ABSOLUTE_TIMEOUT", SESSION_COOKIE_AGE, minimum=300)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# --- Internationalisation -------------------------------------------------------------------
LANGUAGE_CODE = env.get_choice("LANGUAGE_CODE", "zh-hans", ("zh-hans", "en"))
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
FORMAT_MODULE_PATH = ["scrm.formats"]
TIME_ZONE = env.get_str("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------------------
MEDIA_ROOT = Path(env.get_str("MEDIA_ROOT", str(Path(env.get_str("SIYU_DATA_DIR", str(BASE_DIR / "var"))) / "media")))
MEDIA_URL = "/media/"  # uploads are never served publicly; import files are read by the app only
STATIC_URL = "/static/"
STATIC_ROOT = Path(env.get_str("STATIC_ROOT", str(BASE_DIR / "var" / "static")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# --- Security -------------------------------------------------------------------------------
# HTTPS: on by default in production (HSTS for a year, HTTP redirected), off elsewhere.
SECURE_SSL_REDIRECT = env.get_bool("SECURE_SSL_REDIRECT", PRODUCTION)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # the load balancer's probe speaks plain HTTP
SESSION_COOKIE_SECURE = env.get_bool("SECURE_COOKIES", PRODUCTION)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env.get_int("SECURE_HSTS_SECONDS", 365 * 24 * 3600 if PRODUCTION else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.get_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env.get_bool("SECURE_HSTS_PRELOAD", PRODUCTION)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# A proxy's headers are believed only when the deployment says a proxy sets them: with
# TRUSTED_PROXY_SSL_HEADER=1 the scheme comes from X-Forwarded-Proto, with USE_X_FORWARDED_HOST=1
# the host from X-Forwarded-Host, and NUM_PROXIES (below) says how many X-Forwarded-For hops to trust.
if env.get_bool("TRUSTED_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
USE_X_FORWARDED_HOST = env.get_bool("USE_X_FORWARDED_HOST", False)
_NUM_PROXIES = env.get_int("NUM_PROXIES", 0, minimum=0)
# django-axes keys lockouts by the client address: the peer, or the address the trusted proxies saw.
AXES_IPWARE_PROXY_COUNT = _NUM_PROXIES or None
AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR") if _NUM_PROXIES else ("REMOTE_ADDR",)

# Content-Security-Policy (django-csp): scripts and styles from this site only, no inline code; the
# templates and vendored assets are written for it. The API docs pages relax style-src (scrm.api.urls).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "scrm.api.auth.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["scrm.api.permissions.HasScope"],
    "DEFAULT_PAGINATION_CLASS": "scrm.api.pagination.Cursor",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["scrm.api.filters.StrictFilterBackend"],
    "DEFAULT_THROTTLE_CLASSES": ["scrm.api.throttling.PrincipalRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"principal": env.get_str("API_RATE_LIMIT", "6000/min")},
    "DEFAULT_SCHEMA_CLASS": "scrm.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "scrm.api.errors.exception_handler",
    "DEFAULT_PARSER_CLASSES": ["scrm.api.parsers.JSONParser"],
    "DEFAULT_METADATA_CLASS": "scrm.api.metadata.Metadata",
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "scrm.api.negotiation.ContentNegotiation",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    # Proxies in front of the app whose X-Forwarded-For may be trusted (0: use the peer address).
    "NUM_PROXIES": _NUM_PROXIES,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Siyu API",
    "DESCRIPTION": (
        "Private-domain SCRM: members (1+N identities, tags, attributes, consent, segments), orders, "
        "tiers, points and referrals, and the figures across them. Authenticate with "
        "`Authorization: Bearer <key>` (create a key with `manage.py create_api_key NAME`). "
        "Errors always have the shape `{\"error\": {\"status\", \"code\", \"message\", \"details\"}}`; "
        "a refused key's 401 says why in `details.reason` (invalid, missing, expired, revoked)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # Choice sets whose field names ("channel", "status", "kind", "purpose") other resources use for other choices.
    "ENUM_NAME_OVERRIDES": {
        "BookingSourceEnum": "appointments.models.BookingSource",
        "BookingCancelledByEnum": "appointments.models.CancelledBy",
        "BookingStateEnum": "appointments.models.BookingState",
        "OrderChannelEnum": "loyalty.orders.models.OrderChannel",
        "OrderStatusEnum": "loyalty.orders.models.OrderStatus",
        "ImportStatusEnum": "members.io.models.ImportStatus",  # a job and a job in the list
        "OrderImportStatusEnum": "loyalty.orders.models.OrderImportStatus",
        "OrderImportModeEnum": "loyalty.orders.models.OrderImportMode",
        "ImportModeEnum": "members.io.models.ImportMode",  # member imports' modes, not orders'
        "ConsentPurposeEnum": "members.models.consent.ConsentPurpose",
        "ChannelPurposeEnum": "wecom.models.ChannelPurpose",  # channel codes' "purpose"
        "SyncKindEnum": "wecom.models.SyncKind",
        "HandoverKindEnum": "wecom.models.HandoverKind",
        "ContactKindEnum": "wecom.models.ContactKind",
        "EntryKindEnum": "loyalty.points.models.EntryKind",
        "RewardKindEnum": "loyalty.points.models.RewardKind",
        "NoteKindEnum": "members.models.notes.NoteKind",
        "CampaignStatusEnum": "campaigns.models.CampaignStatus",
        "CampaignPurposeEnum": "campaigns.models.Purpose",
        "DeliveryStateEnum": "campaigns.models.DeliveryState",
        "DeliveryReasonEnum": "campaigns.models.DeliveryReason",
        "CommunityKindEnum": "communities.models.CommunityKind",
        "CommunityStatusEnum": "communities.models.CommunityStatus",
        "MembershipRoleEnum": "communities.models.MembershipRole",
        "MembershipSourceEnum": "communities.models.MembershipSource",
        "EventStatusEnum": "communities.models.EventStatus",
        "SignUpStateEnum": "communities.models.SignUpState",
        "SignUpSourceEnum": "communities.models.SignUpSource",
        "CancelledByEnum": "communities.models.CancelledBy",
        "CheckInSourceEnum": "communities.models.CheckInSource",
        "MemberSourceEnum": "members.models.member.Source",  # beside the communities' sources
        "TaskStateEnum": "journeys.models.TaskState",
        "TaskOutcomeEnum": "journeys.models.TaskOutcome",
        "TaskKindEnum": "journeys.models.TaskKind",
        "TaskSourceEnum": "journeys.models.TaskSource",
        "JourneyStepKindEnum": "journeys.models.StepKind",
        "JourneyTriggerEnum": "journeys.models.Trigger",
        "JourneyGoalEnum": "journeys.models.Goal",
        "JourneyEntryRuleEnum": "journeys.models.EntryRule",
        "JourneyEntryPeriodEnum": "journeys.models.EntryPeriod",
        "CalendarPostKindEnum": "journeys.calendar.models.PostKind",
        "CalendarPostStateEnum": "journeys.calendar.models.PostState",
        "CalendarPostAudienceEnum": "journeys.calendar.models.PostAudience",
        "CalendarSenderStatusEnum": "journeys.calendar.models.StaffStatus",
        "SubscriptionStateEnum": "webhooks.models.SubscriptionState",
        "WebhookDeliveryStateEnum": "webhooks.models.DeliveryState",  # not the campaigns' deliveries
    },
}
API_KEY_LAST_USED_RESOLUTION = timedelta(minutes=1)

# --- Celery ---------------------------------------------------------------------------------
CELERY_BROKER_URL = env.celery_broker_url(REDIS_URL)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env.get_int("CELERY_TASK_TIME_LIMIT", 30 * 60, minimum=10)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 5
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_TASK_TIME_LIMIT + 60}
CELERY_TASK_DEFAULT_QUEUE = "default"

# --- Logging --------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.get_str("LOG_LEVEL", "INFO")},
    # httpx logs each request's URL at INFO, query string (an access token, ids) and all: WeCom's
    # client logs its own line per call instead.
    "loggers": {"django.db.backends": {"level": "WARNING"}, "httpx": {"level": "WARNING"}},
}

SIYU_BRAND_NAME = env.get_str("SIYU_BRAND_NAME", "Siyu")

# The WeCom connector. With none of WECOM_CORP_ID, WECOM_SECRET, WECOM_TOKEN, WECOM_AES_KEY set, `up`
# runs the local WeCom server and points these at it; set them to talk to the brand's real corp.
WECOM_API_BASE = env.get_str("WECOM_API_BASE", "https://qyapi.weixin.qq.com").rstrip("/")
WECOM_CORP_ID = env.get_str("WECOM_CORP_ID", "")
# The customer-contact ("客户联系") secret: it reads and writes external contacts, tags and groups.
WECOM_SECRET = env.get_str("WECOM_SECRET", "")
# The callback's Token and EncodingAESKey, as set on the callback page of the WeCom admin console.
WECOM_TOKEN = env.get_str("WECOM_TOKEN", "")
WECOM_AES_KEY = env.get_str("WECOM_AES_KEY", "")
# The self-built app whose chat sidebar shows the member card (JS-SDK agentConfig).
WECOM_AGENT_ID = env.get_str("WECOM_AGENT_ID", "")
# Calls per API per minute and per hour the connector allows itself across all workers (WeCom: 10,000 and
# 150,000 per corp per API); WeCom's 45009 / 45033 answers pause the caller whatever the count.
WECOM_CALLS_PER_MINUTE = env.get_int("WECOM_CALLS_PER_MINUTE", 9000, minimum=1)
WECOM_CALLS_PER_HOUR = env.get_int("WECOM_CALLS_PER_HOUR", 140000, minimum=1)
WECOM_TIMEOUT_SECONDS = env.get_int("WECOM_TIMEOUT_SECONDS", 10, minimum=1)
# The content calendar: how often a created post's senders' publish status is read from WeCom.
CALENDAR_PUBLISH_POLL_SECONDS = env.get_int("CALENDAR_PUBLISH_POLL_SECONDS", 900, minimum=60)
# The channel event and booking reminders go out on (campaigns.services.notices); the outbox unless set.
SIYU_NOTICE_CHANNEL = env.get_str("SIYU_NOTICE_CHANNEL", "outbox")
# Workers sharing one contact sync (each on its own staff members), and contacts written per transaction.
WECOM_SYNC_LANES = env.get_int("WECOM_SYNC_LANES", 2, minimum=1)
WECOM_SYNC_WRITE_BATCH = env.get_int("WECOM_SYNC_WRITE_BATCH", 1000, minimum=1)
# Days a processed (or ignored, or failed) callback event is kept before the nightly purge deletes it.
WECOM_EVENT_RETENTION_DAYS = env.get_int("WECOM_EVENT_RETENTION_DAYS", 90, minimum=1)

# Campaign channels (campaigns/channels/sms.py, mail.py, webhook.py; their protocols are described
# there). A channel whose address or key is missing refuses new campaigns, naming the variable.
# *_RATE: messages per second the channel sends, shared by every worker and host; *_TIMEOUT: seconds.
SIYU_SMS_URL = env.get_str("SIYU_SMS_URL", "").rstrip("/")
SIYU_SMS_KEY = env.get_str("SIYU_SMS_KEY", "")
SIYU_SMS_RATE = env.get_int("SIYU_SMS_RATE", 10, minimum=1)
SIYU_SMS_TIMEOUT = env.get_int("SIYU_SMS_TIMEOUT", 10, minimum=1)
# The secret the SMS provider signs its reply callbacks with (campaigns/replies/services.py); unset: refused.
SIYU_SMS_REPLY_SECRET = env.get_str("SIYU_SMS_REPLY_SECRET", "")
SIYU_SMTP_HOST = env.get_str("SIYU_SMTP_HOST", "")
SIYU_SMTP_SECURITY = env.get_choice("SIYU_SMTP_SECURITY", "starttls", ("starttls", "tls", "none"))
SIYU_SMTP_PORT = env.get_int("SIYU_SMTP_PORT", 465 if SIYU_SMTP_SECURITY == "tls" else 587, minimum=1)
SIYU_SMTP_USER = env.get_str("SIYU_SMTP_USER", "")
SIYU_SMTP_PASSWORD = env.get_str("SIYU_SMTP_PASSWORD", "")
SIYU_SMTP_FROM = env.get_str("SIYU_SMTP_FROM", "")
SIYU_SMTP_RATE = env.get_int("SIYU_SMTP_RATE", 10, minimum=1)
SIYU_SMTP_TIMEOUT = env.get_int("SIYU_SMTP_TIMEOUT", 10, minimum=1)
SIYU_WEBHOOK_URL = env.get_str("SIYU_WEBHOOK_URL", "")
SIYU_WEBHOOK_SECRET = env.get_str("SIYU_WEBHOOK_SECRET", "")
SIYU_WEBHOOK_RATE = env.get_int("SIYU_WEBHOOK_RATE", 50, minimum=1)
SIYU_WEBHOOK_TIMEOUT = env.get_int("SIYU_WEBHOOK_TIMEOUT", 10, minimum=1)
# The event log behind the integrations' webhook subscriptions and their replay (scrm.events,
# webhooks): events are kept this many days; a subscription may replay any of them.
SIYU_EVENT_RETENTION_DAYS = env.get_int("SIYU_EVENT_RETENTION_DAYS", 30, minimum=1)
# Webhook subscriptions may not point at private, loopback or link-local addresses (the demo's and
# the tests' local receivers need 0; production keeps 1).
SIYU_WEBHOOK_FORBID_PRIVATE = env.get_bool("SIYU_WEBHOOK_FORBID_PRIVATE", PRODUCTION)
# Webhook deliveries (webhooks.services.sending): a claimed delivery is leased this many seconds (a
# worker killed mid-send leaves it due again after that); a failed delivery is retried after
# SIYU_WEBHOOK_RETRY_BASE seconds, doubling to an hour, for 24 hours; requests in flight per worker process.
SIYU_WEBHOOK_LEASE_SECONDS = env.get_int("SIYU_WEBHOOK_LEASE_SECONDS", 60, minimum=10)
SIYU_WEBHOOK_RETRY_BASE = env.get_int("SIYU_WEBHOOK_RETRY_BASE", 30, minimum=1)
SIYU_WEBHOOK_CONCURRENCY = env.get_int("SIYU_WEBHOOK_CONCURRENCY", 16, minimum=1)
# Days after its creation a customer mass-message task may still be confirmed by its staff member:
# it is polled that long, then what is still unsent is final (WeCom documents no end of its own).
WECOM_MASS_CONFIRM_DAYS = env.get_int("WECOM_MASS_CONFIRM_DAYS", 30, minimum=1)
# Currencies the brand sells in (ISO 4217); an order in any other is refused. The first is the one
# tiers, points and figures are counted in.
# The link a member shares; {code} is replaced by their referral code (e.g. a mini-program page).
SIYU_REFERRAL_LINK = env.get_str("SIYU_REFERRAL_LINK", "/r/{code}")
# Retention (members.services.retention, beat "privacy-retention"): import files and their error reports are
# deleted after SIYU_UPLOAD_RETENTION_DAYS; members with no activity for SIYU_MEMBER_RETENTION_DAYS are erased
# (0: never). At most SIYU_RETENTION_BATCH members and files per step and pass.
SIYU_UPLOAD_RETENTION_DAYS = env.get_int("SIYU_UPLOAD_RETENTION_DAYS", 30, minimum=1)
SIYU_MEMBER_RETENTION_DAYS = env.get_int("SIYU_MEMBER_RETENTION_DAYS", 0, minimum=0)
SIYU_RETENTION_BATCH = env.get_int("SIYU_RETENTION_BATCH", 500, minimum=1)
SIYU_CURRENCIES = [c.strip().upper() for c in env.get_str("SIYU_CURRENCIES", "CNY").split(",") if c.strip()]
# Where members reach this site: campaign links are sent as {SIYU_PUBLIC_URL}/l/<code>/<token> (no
# trailing slash). In production it defaults to https:// and the first ALLOWED_HOSTS name.
SIYU_PUBLIC_URL = env.get_str(
    "SIYU_PUBLIC_URL", f"https://{ALLOWED_HOSTS[0].lstrip('.')}" if PRODUCTION else "http://127.0.0.1:8000"
).rstrip("/")
# Days after a campaign's message (or a click on its link) an order counts for that campaign, and the
# window its holdout comparison runs from the campaign's start.
SIYU_CAMPAIGN_ATTRIBUTION_DAYS = env.get_int("SIYU_CAMPAIGN_ATTRIBUTION_DAYS", 7, minimum=1)
# Results of a campaign with more recipients than this are read from a summary a task refreshes
# every SIYU_RESULTS_REFRESH_MINUTES (campaigns.services.figures); smaller ones are summed live.
SIYU_RESULTS_LIVE_MAX = env.get_int("SIYU_RESULTS_LIVE_MAX", 100_000, minimum=0)
SIYU_RESULTS_REFRESH_MINUTES = env.get_int("SIYU_RESULTS_REFRESH_MINUTES", 15, minimum=1)
