"""Test settings: the same database engine as DATABASE_URL (SQLite file by default, PostgreSQL in CI)."""

import os

from .base import *  # noqa: F401,F403
from .base import DATABASES, VAR_DIR

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Unit tests run tasks in-process; tests whose behaviour depends on real workers start them.
CELERY_TASK_ALWAYS_EAGER = True
FAIRWAY_REQUIRE_OWNER_MFA = True
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
FIELD_ENCRYPTION_KEYS = ["mLmd2X3iBAFn8F4VnE6wQdbQ5Rpn4bcZ2A4dF8vVq3A="]

# TEST_DATABASE_NAME lets two test runs share a machine without sharing a database.
_test_name = os.environ.get("TEST_DATABASE_NAME", "")
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not :memory:, so worker processes started by tests see the same database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{_test_name or 'fairway'}.sqlite3")}
elif _test_name:
    DATABASES["default"]["TEST"] = {"NAME": _test_name}

LOGGING["loggers"]["celery.app.trace"] = {"level": "WARNING"}  # noqa: F405 (one line per eager task is noise)
# Tests never reach a real model: without a fake server's address the builder uses the offline parser.
ANTHROPIC_API_KEY = ""
ANTHROPIC_BASE_URL = "http://127.0.0.1:9"
