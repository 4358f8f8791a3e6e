"""Who is calling the API, for which club, with which scopes, and how often (SPEC 14, 15).

Two ways in: a club's API key (`Authorization: Api-Key fw_…`) or a staff session (the
marketer pages' login, with CSRF on writes). Either way the request gets exactly one club: the
key's, or the staff member's current club; every view reads `request.club` and nothing else.
Scopes name what a key may do; a staff session has the scopes its role's capabilities allow.
"""

import functools

import redis
from django.conf import settings
from django.core.cache import cache
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from crm.models import ApiScope, Capability
from crm.models.clubs import role_allows
from crm.services.api_keys import api_key_authenticate

SCOPE_CAPABILITY = {
    ApiScope.PROFILES_READ: Capability.VIEW,
    ApiScope.PROFILES_WRITE: Capability.EDIT_PROFILES,
    ApiScope.MERGES_WRITE: Capability.EDIT_PROFILES,
    ApiScope.EVENTS_INGEST: Capability.MANAGE_CLUB,
    ApiScope.SEGMENTS_READ: Capability.VIEW,
    ApiScope.SEGMENTS_WRITE: Capability.MARKET,
}


API_KEY_KEYWORD = "Api-Key"


def api_key_from_header(request):
    """The live key in `Authorization: Api-Key …`, None without that header; AuthenticationFailed for a bad one."""
    header = request.headers.get("Authorization", "")
    if not header.startswith(f"{API_KEY_KEYWORD} "):
        return None
    key = api_key_authenticate(header[len(API_KEY_KEYWORD) + 1 :])
    if key is None:
        raise AuthenticationFailed("This API key is not valid, was revoked or has expired.")
    return key


class ApiKeyAuthentication(BaseAuthentication):
    keyword = API_KEY_KEYWORD

    def authenticate(self, request):
        key = api_key_from_header(request)
        if key is None:
            return None
        request._request.club, request._request.club_role = key.club, None
        return (None, key)

    def authenticate_header(self, request):
        return self.keyword


class ClubSessionAuthentication(SessionAuthentication):
    """A signed-in staff member acting in their current club (CSRF enforced on writes)."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is None or getattr(request._request, "club", None) is None:
            return None
        return result


def request_scopes(request) -> set[str]:
    if request.auth is not None and hasattr(request.auth, "scopes"):
        return set(request.auth.scopes)
    role = getattr(request._request, "club_role", None)
    return {scope for scope, capability in SCOPE_CAPABILITY.items() if role_allows(role, capability)}


class HasScope(BasePermission):
    """Reads need the view's `read_scope`, writes its `write_scope`."""

    def has_permission(self, request, view):
        if request.auth is None and not (request.user and request.user.is_authenticated):
            raise NotAuthenticated("Send an API key (Authorization: Api-Key …) or sign in.")
        if getattr(request._request, "club", None) is None:
            return False
        needed = view.read_scope if request.method in SAFE_METHODS else view.write_scope
        if needed in request_scopes(request):
            return True
        self.message = f"This needs the '{needed}' scope."
        return False


class _Throttle(BaseThrottle):
    """At most N requests per period, counted in a window that opens with the first request.

    One pipelined round trip to Redis per check (SET NX with the period's expiry, INCR, PTTL);
    DRF's SimpleRateThrottle instead reads and rewrites a list of every request time in the
    window, 3,000 entries at the club rate, through four cache calls. Without Redis (the
    embedded default) the Django cache's add/incr do the same, less precisely.
    """

    scope = ""

    def allow_request(self, request, view):
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        limit, period = _parse_rate(settings.API_THROTTLE_RATES[self.scope])
        count, seconds_left = _window_count(key, period)
        self.retry_after = seconds_left
        return count <= limit

    def wait(self):
        return self.retry_after


RATE_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _parse_rate(rate: str) -> tuple[int, int]:
    number, period = rate.split("/")
    return int(number), RATE_PERIODS[period[0]]


def _window_count(key: str, period: int) -> tuple[int, float]:
    """(requests in this key's current window including this one, seconds until the window ends)."""
    client = _redis()
    if client is None:
        cache.add(key, 0, period)
        try:
            return cache.incr(key), period
        except ValueError:  # expired between add and incr
            cache.add(key, 1, period)
            return 1, period
    pipeline = client.pipeline(transaction=True)
    pipeline.set(key, 0, ex=period, nx=True)
    pipeline.incr(key)
    pipeline.pttl(key)
    _, count, milliseconds_left = pipeline.execute()
    return count, max(milliseconds_left, 0) / 1000


@functools.cache
def _redis():
    return redis.Redis.from_url(settings.REDIS_URL) if settings.REDIS_URL else None


class ApiKeyThrottle(_Throttle):
    """Per key: one integration's loop can't starve the club's other integrations."""

    scope = "key"

    def get_cache_key(self, request, view):
        key = request.auth if request.auth is not None and hasattr(request.auth, "prefix") else None
        return f"fairway:throttle:key:{key.prefix}" if key else None


class ClubThrottle(_Throttle):
    """Per club, keys and staff together: one club can't starve the others."""

    scope = "club"

    def get_cache_key(self, request, view):
        club = getattr(request._request, "club", None)
        return f"fairway:throttle:club:{club.pk}" if club else None


class ClubApiView(APIView):
    """Base of every club API view: one club per request, scopes, throttles."""

    authentication_classes = [ApiKeyAuthentication, ClubSessionAuthentication]
    permission_classes = [HasScope]
    throttle_classes = [ApiKeyThrottle, ClubThrottle]
    read_scope = ApiScope.PROFILES_READ
    write_scope = ApiScope.PROFILES_WRITE

    @property
    def club(self):
        return self.request._request.club
