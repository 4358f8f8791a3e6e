"""Creating, revoking and checking API keys. Keys look like `fw_<prefix>_<secret>`."""

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from crm.errors import CrmError, CrmErrorCode, require_in_club
from crm.kernel.actor import Actor
from crm.models import ApiKey, ApiScope, AuditAction
from crm.services.audit import audit_changes, audit_record

LAST_USED_RESOLUTION = timedelta(minutes=1)  # don't write a row on every request


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _checked_scopes(scopes) -> list[str]:
    unknown = set(scopes) - set(ApiScope.values)
    if unknown or not scopes:
        raise CrmError(
            CrmErrorCode.NOT_PERMITTED,
            f"Choose scopes from {', '.join(ApiScope.values)}"
            + (f"; unknown: {', '.join(sorted(unknown))}" if unknown else ""),
        )
    return sorted(set(scopes))


def _checked_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise CrmError(CrmErrorCode.NOT_PERMITTED, "An API key needs a name.")
    return name


def api_key_create(*, club, actor: Actor, name: str, scopes, expires_at=None) -> tuple[ApiKey, str]:
    """A new key; the full value is returned once and never stored."""
    name, scopes = _checked_name(name), _checked_scopes(scopes)
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        club=club,
        name=name,
        prefix=prefix,
        hashed_key=_digest(secret),
        scopes=scopes,
        created_by=actor.user,
        expires_at=expires_at,
    )
    audit_record(club=club, actor=actor, action=AuditAction.API_KEY_CREATE, target=key, summary=f"API key {key}")
    return key, f"fw_{prefix}_{secret}"


def api_key_update(*, club, actor: Actor, api_key: ApiKey, name: str, scopes, expires_at) -> ApiKey:
    """Rename a key, change what it may do or when it expires; the audit row keeps each change as
    [before, after]. A revoked key stays as it was revoked."""
    require_in_club(club, api_key)
    after = {"name": _checked_name(name), "scopes": _checked_scopes(scopes), "expires_at": expires_at}
    with transaction.atomic():
        # The stored row, not the object handed in (a form's instance already carries the edit),
        # locked so two edits racing each other each record the [before, after] they made.
        api_key = ApiKey.objects.for_club(club).select_for_update().get(pk=api_key.pk)
        if api_key.revoked_at is not None:
            raise CrmError(CrmErrorCode.NOT_PERMITTED, "A revoked key can't be edited; create a new one.")
        changed = audit_changes({field: getattr(api_key, field) for field in after}, after)
        if not changed:
            return api_key
        for field in changed:
            setattr(api_key, field, after[field])
        api_key.save(update_fields=list(changed))
        audit_record(
            club=club,
            actor=actor,
            action=AuditAction.API_KEY_UPDATE,
            target=api_key,
            summary=f"API key {api_key}",
            details=changed,
        )
    return api_key


@transaction.atomic
def api_key_revoke(*, club, actor: Actor, key: ApiKey) -> ApiKey:
    """Stop accepting the key, like `signing_secret_revoke`: the row stays so the audit trail keeps
    naming it; revoking one already revoked (by a racing call, or through a stale object) changes
    and records nothing."""
    require_in_club(club, key)
    # The stored row, locked: two revocations racing each other write one audit row, not two.
    key = ApiKey.objects.for_club(club).select_for_update().get(pk=key.pk)
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        audit_record(club=club, actor=actor, action=AuditAction.API_KEY_REVOKE, target=key, summary=f"API key {key}")
    return key


def api_key_authenticate(raw: str) -> ApiKey | None:
    """The live key this value belongs to, or None (unknown, wrong secret, revoked, expired)."""
    parts = (raw or "").strip().split("_", 2)
    if len(parts) != 3 or parts[0] != "fw":
        return None
    _, prefix, secret = parts
    key = (
        ApiKey.objects.unscoped_across_clubs().select_related("club").filter(prefix=prefix).first()
    )  # the key names its club
    if key is None or not hmac.compare_digest(key.hashed_key, _digest(secret)):
        return None
    now = timezone.now()
    if key.revoked_at or (key.expires_at and key.expires_at <= now):
        return None
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.for_club(key.club).filter(pk=key.pk).update(last_used_at=now)
    return key
