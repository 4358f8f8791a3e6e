"""HMAC signatures on pushed events: `X-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`."""

import hashlib
import hmac
import time

from django.utils import timezone

from crm.models import EventSigningSecret

TOLERANCE_SECONDS = 300


class SignatureError(Exception):
    pass


def signature_header(*, secret: str, body: bytes, timestamp: int | None = None) -> str:
    """What a source sends; used by the demo seeder, the benchmark and integrators' tests."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def signature_verify(*, club, source: str, header: str, body: bytes, now: float | None = None) -> None:
    """Accept the body only if one of the club's active secrets for `source` signed it recently.

    The timestamp is inside the signed text, so an old request can't be re-sent with a fresh
    one; within the tolerance a re-sent request only repeats events, which are duplicates.
    """
    parts: dict[str, list[str]] = {}
    for item in (header or "").split(","):
        key, _, value = item.strip().partition("=")
        if value:
            parts.setdefault(key, []).append(value)
    if "t" not in parts or "v1" not in parts or not parts["t"][0].isdigit():
        raise SignatureError("X-Signature must look like t=<unix seconds>,v1=<hex digest>.")
    timestamp = int(parts["t"][0])
    now = time.time() if now is None else now
    if abs(now - timestamp) > TOLERANCE_SECONDS:
        raise SignatureError("The signature timestamp is outside the 5-minute tolerance.")
    secrets = list(EventSigningSecret.objects.for_club(club).filter(source=source, is_active=True))
    signed = f"{timestamp}.".encode() + body
    for secret in secrets:
        expected = hmac.new(secret.secret.encode(), signed, hashlib.sha256).hexdigest()
        if any(hmac.compare_digest(expected, given) for given in parts["v1"]):
            EventSigningSecret.objects.for_club(club).filter(pk=secret.pk).update(last_used_at=timezone.now())
            return
    raise SignatureError("The signature does not match.")
