"""The newcomer's setup: `make run` on a fresh machine, SQLite and the filesystem broker."""

from .base import *  # noqa: F401,F403
from .base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
FAIRWAY_REQUIRE_OWNER_MFA = env.bool("FAIRWAY_REQUIRE_OWNER_MFA", default=False)
