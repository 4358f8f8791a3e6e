from django.conf import settings
from django.db import models

from crm.kernel.tenancy import ClubScopedManager


class AuditAction(models.TextChoices):
    LOGIN = "auth.login", "Logged in"
    LOGIN_FAILED = "auth.login_failed", "Login failed"
    EXPORT = "data.export", "Exported data"
    PROFILE_VIEW = "profile.view", "Viewed profile"
    PROFILE_UPDATE = "profile.update", "Edited profile"
    TAG = "profile.tag", "Tagged profiles"
    UNTAG = "profile.untag", "Untagged profiles"
    TAG_CREATE = "tag.create", "Created a tag"
    TAG_UPDATE = "tag.update", "Edited a tag"
    TAG_DELETE = "tag.delete", "Deleted a tag"
    NOTE_ADD = "note.add", "Added note"
    NOTE_EDIT = "note.edit", "Edited note"
    NOTE_DELETE = "note.delete", "Deleted note"
    STAFF_INVITE = "staff.invite", "Invited staff"
    STAFF_ROLE_CHANGE = "staff.role_change", "Changed staff role"
    STAFF_REMOVE = "staff.remove", "Removed staff"
    CLUB_SWITCH = "club.switch", "Switched club"
    CLUB_UPDATE = "club.update", "Edited club settings"
    EVENT_REPLAY = "events.replay", "Replayed events"
    SECRET_CREATE = "secret.create", "Created a signing secret"
    SECRET_REVOKE = "secret.revoke", "Revoked a signing secret"
    PROFILE_MERGE = "profile.merge", "Merged profiles"
    PROFILE_UNMERGE = "profile.unmerge", "Unmerged profiles"
    SUGGESTION_REJECT = "suggestion.reject", "Rejected a merge suggestion"
    IMPORT = "data.import", "Imported profiles"
    API_KEY_CREATE = "api_key.create", "Created an API key"
    API_KEY_UPDATE = "api_key.update", "Edited an API key"
    API_KEY_REVOKE = "api_key.revoke", "Revoked an API key"
    SEGMENT_CREATE = "segment.create", "Created a segment"
    SEGMENT_UPDATE = "segment.update", "Edited a segment"
    SEGMENT_DELETE = "segment.delete", "Deleted a segment"
    SEGMENT_MEMBERS_ADD = "segment.members_add", "Added profiles to a segment"
    SEGMENT_MEMBERS_REMOVE = "segment.members_remove", "Removed profiles from a segment"
    SUPPRESSION_ADD = "suppression.add", "Added a suppression"


class AuditLog(models.Model):
    """Who did what, when, to which object. Append-only; never edited from the UI.

    `club` is empty only for platform events that belong to no club (a login before a club is
    chosen). Club staff see only their club's rows.
    """

    club = models.ForeignKey("crm.Club", on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The API key a write came through (its user is empty then); kept when the key is deleted.
    api_key = models.ForeignKey("crm.ApiKey", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    action = models.CharField(max_length=40, choices=AuditAction.choices)
    object_type = models.CharField(max_length=60, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    summary = models.CharField(max_length=300, blank=True)
    details = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = ClubScopedManager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["club", "-created_at"], name="audit_club_created"),
            models.Index(fields=["club", "object_type", "object_id"], name="audit_club_object"),
        ]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor} {self.action} {self.object_type}#{self.object_id}"
