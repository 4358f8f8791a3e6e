"""Segments (SPEC 8): saved rules or hand-picked lists, with their membership materialised."""

from django.conf import settings
from django.db import models

from crm.kernel.tenancy import ClubScopedModel


class SegmentKind(models.TextChoices):
    DYNAMIC = "dynamic", "Dynamic (rules)"
    STATIC = "static", "Static (hand-picked)"


class SyncStatus(models.TextChoices):
    NEVER = "never", "Not synced yet"
    RUNNING = "running", "Syncing"
    SYNCED = "synced", "In sync"
    FAILED = "failed", "Failed (will resume)"


class Segment(ClubScopedModel):
    name = models.CharField(max_length=80)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=10, choices=SegmentKind.choices, default=SegmentKind.DYNAMIC)
    rule = models.JSONField(null=True, blank=True, help_text="The rule tree (dynamic segments); see the grammar.")
    member_count = models.PositiveIntegerField(default=0)
    last_refreshed_at = models.DateTimeField(null=True, blank=True)
    last_refresh_ms = models.PositiveIntegerField(null=True, blank=True)
    # The last scheduled full refresh that could not run (a stored rule that no longer validates,
    # a lock it could not get): shown to the marketer, and the tick waits an interval before trying
    # it again instead of handing it to a worker every minute. Cleared by the next full refresh.
    refresh_failed_at = models.DateTimeField(null=True, blank=True)
    refresh_error = models.TextField(blank=True)
    # Sync to a Messaging list (SPEC 8, 13 outbound).
    sync_to_messaging = models.BooleanField(default=False)
    messaging_list_id = models.CharField(max_length=120, blank=True)
    sync_status = models.CharField(max_length=10, choices=SyncStatus.choices, default=SyncStatus.NEVER)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    sync_error = models.TextField(blank=True)
    # Bumped after every acknowledged batch while a sync runs: a "running" segment whose heartbeat
    # stopped (the worker was killed) may be taken over instead of staying locked forever.
    sync_heartbeat_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["club", "name"], name="uniq_segment_club_name")]

    def __str__(self):
        return self.name


class SegmentMember(ClubScopedModel):
    """Who is in a segment now; a refresh changes only the difference."""

    # A refresh inserts thousands of rows at once, so each costs as little as it can. The database
    # checks no foreign keys here: every writer (refresh, hand-picking) inserts ids it has just read
    # from live profiles while holding the segment's row lock, profiles are never deleted outright
    # (merges and erasure keep the row), and deletes still cascade through the ORM. Checking them
    # cost 0.15 s at commit for 12k newcomers. The club is implied by the segment (no index of its
    # own: every query names the segment); the unique (segment, profile) index serves lookups.
    club = models.ForeignKey(
        "crm.Club", on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    segment = models.ForeignKey(
        Segment, on_delete=models.CASCADE, related_name="members", db_index=False, db_constraint=False
    )
    profile = models.ForeignKey(
        "crm.CustomerProfile", on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    entered_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["segment", "profile"], name="uniq_segment_member")]
        indexes = [models.Index(fields=["profile"], name="segment_member_profile")]  # "which segments is X in"


class SegmentChangeKind(models.TextChoices):
    ENTERED = "entered", "Entered"
    EXITED = "exited", "Exited"


class SegmentChange(ClubScopedModel):
    """A profile entering or leaving a segment, with when: what journeys trigger on."""

    # An append-only log written from the same statement that changes the membership (whose own
    # keys are checked), so its rows skip the database's foreign-key checks: a full first refresh
    # of 12k people spent more time checking them than writing. Deletes still cascade (the ORM
    # does that, not the database).
    club = models.ForeignKey(
        "crm.Club", on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    segment = models.ForeignKey(
        Segment, on_delete=models.CASCADE, related_name="changes", db_index=False, db_constraint=False
    )
    profile = models.ForeignKey(
        "crm.CustomerProfile", on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    change = models.CharField(max_length=8, choices=SegmentChangeKind.choices)
    at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["segment", "-at"], name="segment_change_by_time"),
            models.Index(fields=["profile"], name="segment_change_profile"),
        ]


class MessagingListEntry(ClubScopedModel):
    """A profile the segment's Messaging list is known to hold: recorded only once Messaging has
    acknowledged the add, deleted once it has acknowledged the removal, so a sync that fails part-way
    resumes from the difference without sending anyone twice or losing anyone."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="list_entries")
    profile = models.ForeignKey("crm.CustomerProfile", on_delete=models.CASCADE, related_name="+", db_index=False)
    pushed_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["segment", "profile"], name="uniq_messaging_list_entry")]
