from django.db import models

from crm.kernel.tenancy import ClubScopedModel


class ActivitySource(models.TextChoices):
    SCL = "scl", "SCL (membership)"
    TEETIME = "teetime", "TeeTime (golf)"
    MESSAGING = "messaging", "Messaging"
    CRM = "crm", "CRM"
    SOCIAL = "social", "Social"
    BACKFILL = "backfill", "Backfill import"


class Activity(ClubScopedModel):
    """One thing that happened to a person, newest-first on their timeline (SPEC 6).

    `type` is namespaced (`membership.renewed`, `round.completed`, `message.opened`).
    """

    profile = models.ForeignKey(
        "crm.CustomerProfile",
        on_delete=models.CASCADE,
        related_name="activities",
        db_index=False,  # activity_timeline leads with the profile
    )
    occurred_at = models.DateTimeField()
    source = models.CharField(max_length=12, choices=ActivitySource.choices)
    type = models.CharField(max_length=60)
    summary = models.CharField(max_length=300)
    properties = models.JSONField(default=dict, blank=True)
    amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    inbound_event = models.ForeignKey(
        "crm.InboundEvent",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="activities",
        db_index=False,  # covered by the uniq_activity_per_event_profile constraint
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "activities"
        indexes = [
            # The timeline: one profile, newest first, keyset-paginated on (occurred_at, id). Led by
            # the profile (which implies the club) and the only index on it, so PostgreSQL can't
            # prefer a bare profile_id index and sort a long timeline to read its first page.
            models.Index(fields=["profile", "-occurred_at", "-id"], name="activity_timeline"),
            # Segment conditions: "at least N round.completed in the last 30 days". The profile
            # comes last so a window's activities are counted per profile from the index alone
            # (an index-only scan; benchmarks/segments.py: the segment's best query 1.05 s → 0.56 s).
            models.Index(fields=["club", "type", "occurred_at", "profile"], name="activity_club_type_time_who"),
        ]
        constraints = [
            # One timeline entry per event and person, so reprocessing an event adds nothing.
            models.UniqueConstraint(
                fields=["club", "inbound_event", "profile"],
                condition=models.Q(inbound_event__isnull=False),
                name="uniq_activity_per_event_profile",
            ),
        ]

    def __str__(self):
        return f"{self.occurred_at:%Y-%m-%d} {self.type}: {self.summary}"
