"""API keys: how integrations (club apps, reporting tools, the source systems) call the API."""

from django.conf import settings
from django.db import models

from crm.kernel.tenancy import ClubScopedModel


class ApiScope(models.TextChoices):
    PROFILES_READ = "profiles:read", "Read profiles, timelines, notes, tags, identifiers"
    PROFILES_WRITE = "profiles:write", "Edit profiles, notes and tags"
    EVENTS_INGEST = "events:ingest", "Send and replay events"
    MERGES_WRITE = "merges:write", "Merge and unmerge profiles, decide merge suggestions"
    SEGMENTS_READ = "segments:read", "Read segments, their counts and previews"
    SEGMENTS_WRITE = "segments:write", "Create, edit, refresh and delete segments; add and remove static members"


class ApiKey(ClubScopedModel):
    """A club's key. Only a SHA-256 of the secret is stored; the prefix identifies it in lists.

    The secret is 32 random bytes, so a fast hash is enough: there is nothing to brute-force.
    """

    name = models.CharField(max_length=100, help_text="Who uses it, e.g. 'Club app (production)'.")
    prefix = models.CharField(max_length=12, unique=True, editable=False)
    hashed_key = models.CharField(max_length=64, editable=False)
    scopes = models.JSONField(default=list, help_text="Scopes this key may use.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: never expires.")
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "API key"
        indexes = [models.Index(fields=["club", "-created_at"], name="apikey_club_created")]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"
