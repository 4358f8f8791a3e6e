"""Who is doing a write: the staff member, the API key, and where the request came from.

Every write service takes one `actor: Actor` (instead of a user here and an IP address there) so
the audit row can say who, with which key and from where, whichever edge the write came through.
Pure: it reads attributes off the request and imports no model.
"""

from dataclasses import dataclass
from typing import Any


def client_ip(request) -> str | None:
    """The address the request came from, as the server saw it (no proxy header is trusted)."""
    return request.META.get("REMOTE_ADDR") if request is not None else None


@dataclass(frozen=True)
class Actor:
    user: Any = None  # the signed-in staff member (an authenticated user), or None
    api_key: Any = None  # the crm.ApiKey a request authenticated with, or None
    ip_address: str | None = None

    @classmethod
    def from_request(cls, request) -> "Actor":
        """The actor behind a page, admin, API or GraphQL request: the session's user, or the API
        key DRF's authentication attached as `request.auth` (an API-key request has no user)."""
        user = getattr(request, "user", None)
        api_key = getattr(request, "auth", None)
        return cls(
            user=user if user is not None and user.is_authenticated else None,
            api_key=api_key if hasattr(api_key, "scopes") else None,
            ip_address=client_ip(request),
        )

    @classmethod
    def for_user(cls, user, *, ip_address: str | None = None) -> "Actor":
        """A staff member acting outside a request (a command run by a named person, a login)."""
        return cls(user=user if user is not None and user.is_authenticated else None, ip_address=ip_address)

    @classmethod
    def system(cls) -> "Actor":
        """Fairway itself: identity resolution, scheduled jobs, demo data. Audited with no one."""
        return cls()
