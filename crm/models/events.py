import uuid

from django.db import models
from django.db.models import Q

from crm.fields import EncryptedTextField
from crm.kernel.tenancy import ClubScopedModel


class InboundEventStatus(models.TextChoices):
    RECEIVED = "received", "Received (waiting to be processed)"
    PROCESSED = "processed", "Processed"
    REJECTED = "rejected", "Rejected (invalid)"
    FAILED = "failed", "Failed (will retry)"
    DEAD = "dead", "Failed (gave up)"


class InboundEvent(ClubScopedModel):
    """An event exactly as SCL, TeeTime or Messaging sent it; stored before anything else happens.

    Unique on (club, source, event_id), so a redelivery is a no-op. Rejected events keep their
    errors (the dead-letter view) and can be replayed after a fix.
    """

    source = models.CharField(max_length=12)
    event_id = models.CharField(max_length=100, blank=True)
    type = models.CharField(max_length=60)
    occurred_at = models.DateTimeField(null=True, blank=True)
    schema_version = models.PositiveSmallIntegerField(default=1)
    data = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=InboundEventStatus.choices, default=InboundEventStatus.RECEIVED)
    errors = models.JSONField(default=list, blank=True, help_text="Why it was rejected or failed.")
    warnings = models.JSONField(default=list, blank=True, help_text="Values dropped while applying it.")
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    transport = models.CharField(max_length=10, default="http")
    batch_id = models.UUIDField(default=uuid.uuid4, editable=False)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["club", "source", "event_id"], condition=~Q(event_id=""), name="uniq_inbound_event"
            ),
        ]
        indexes = [
            models.Index(fields=["club", "status", "received_at"], name="inbound_club_status"),
            models.Index(fields=["club", "-received_at", "-id"], name="inbound_club_received"),
            models.Index(fields=["batch_id"], name="inbound_batch"),
            models.Index(
                fields=["status", "next_attempt_at"],
                name="inbound_pending",
                condition=Q(status__in=["received", "failed"]),
            ),
        ]

    def __str__(self):
        return f"{self.source}:{self.type} {self.event_id or '(no id)'} [{self.status}]"


class EventSigningSecret(ClubScopedModel):
    """The HMAC secret a source signs its pushes with. Several may be active while rotating."""

    source = models.CharField(
        max_length=12, choices=[("scl", "SCL"), ("teetime", "TeeTime"), ("messaging", "Messaging")]
    )
    secret = EncryptedTextField(help_text="Shown once when created; stored encrypted.")
    label = models.CharField(max_length=100, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["club", "source"], name="secret_club_source")]

    def __str__(self):
        return f"{self.get_source_display()} secret {self.label or self.pk}"


class TournamentStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    CANCELLED = "cancelled", "Cancelled"
    COMPLETED = "completed", "Results published"


class Tournament(ClubScopedModel):
    """A tournament or club event as TeeTime publishes it (event promotion builds on this)."""

    external_id = models.CharField(max_length=100)
    name = models.CharField(max_length=200)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True)
    entry_deadline = models.DateTimeField(null=True, blank=True)
    capacity = models.PositiveIntegerField(null=True, blank=True)
    entries_count = models.PositiveIntegerField(default=0)
    format = models.CharField(max_length=60, blank=True)
    handicap_min = models.DecimalField(max_digits=4, decimal_places=1, null=True, blank=True)
    handicap_max = models.DecimalField(max_digits=4, decimal_places=1, null=True, blank=True)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=TournamentStatus.choices, default=TournamentStatus.SCHEDULED)
    last_event_at = models.DateTimeField(help_text="occurred_at of the newest event applied.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["club", "external_id"], name="uniq_tournament_external_id"),
        ]
        indexes = [models.Index(fields=["club", "starts_at"], name="tournament_club_starts")]

    def __str__(self):
        return self.name


# What staff (admin) and integrators (API) see of a received event, besides its id and payload.
INBOUND_EVENT_FIELDS = (
    "source",
    "type",
    "event_id",
    "occurred_at",
    "schema_version",
    "status",
    "errors",
    "warnings",
    "attempts",
    "next_attempt_at",
    "transport",
    "received_at",
    "processed_at",
)
