"""The send ledger (SPEC 9, 10): one row per message a campaign run or a journey step sends a
profile on a channel, written before Messaging is called and marked sent only once Messaging has
acknowledged it. The rules that decide whether a row may go live in marketing/services/sends.py."""

from django.db import models
from django.db.models import Q

from crm.kernel.tenancy import ClubScopedModel


class SendChannel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"
    PUSH = "push", "Push"
    WHATSAPP = "whatsapp", "WhatsApp"


class SendSourceKind(models.TextChoices):
    CAMPAIGN_RUN = "campaign_run", "Campaign run"
    JOURNEY_STEP = "journey_step", "Journey step"


class SendStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DEFERRED = "deferred", "Deferred (quiet hours)"
    SENT = "sent", "Sent (acknowledged by Messaging)"
    FAILED = "failed", "Failed (rejected by Messaging)"
    SKIPPED = "skipped", "Skipped"


# What a dispatcher may still pick up; the other statuses are final.
OPEN_SEND_STATUSES = (SendStatus.PENDING, SendStatus.DEFERRED)


class SendSkipReason(models.TextChoices):
    ERASED = "erased", "Profile erased"
    MERGED = "merged", "Profile merged into another"
    ALREADY_SENT = "already_sent", "Already sent under a profile since merged into this one"
    NO_CONSENT = "no_consent", "No consent for the channel"
    SUPPRESSED = "suppressed", "Suppressed"
    NO_ADDRESS = "no_address", "No address for the channel"
    FREQUENCY_CAP = "frequency_cap", "Frequency cap reached"


class MessageContent(ClubScopedModel):
    """What one source sends on one channel: a Messaging template with variables, or a subject and
    body. Written once, by the first enqueue, so every batch of the source sends the same thing."""

    source_kind = models.CharField(max_length=16, choices=SendSourceKind.choices)
    source_id = models.PositiveBigIntegerField()
    channel = models.CharField(max_length=10, choices=SendChannel.choices)
    template_id = models.CharField(max_length=120, blank=True)
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField(blank=True)
    variables = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["club", "source_kind", "source_id", "channel"], name="uniq_message_content_source"
            ),
            models.CheckConstraint(condition=~Q(template_id="") | ~Q(body=""), name="message_content_has_content"),
        ]

    def __str__(self):
        return f"{self.get_source_kind_display()} {self.source_id} ({self.channel})"


class MessageSend(ClubScopedModel):
    """One message to one profile. The unique (source, channel, profile) row is the promise that it
    goes at most once: its idempotency key derives from exactly those fields, so whoever retries it
    — the same dispatcher after a timeout, another after a crash — replays in Messaging."""

    source_kind = models.CharField(max_length=16, choices=SendSourceKind.choices)
    source_id = models.PositiveBigIntegerField()
    channel = models.CharField(max_length=10, choices=SendChannel.choices)
    profile = models.ForeignKey("crm.CustomerProfile", on_delete=models.CASCADE, related_name="+", db_index=False)
    status = models.CharField(max_length=10, choices=SendStatus.choices, default=SendStatus.PENDING)
    skip_reason = models.CharField(max_length=16, choices=SendSkipReason.choices, blank=True)
    error = models.TextField(blank=True, help_text="Why Messaging rejected it (failed rows).")
    # When it may go: the enqueue time, or the end of the quiet hours it was deferred by.
    due_at = models.DateTimeField()
    # A dispatcher that claimed the row owns it until then; a dispatcher killed mid-batch leaves
    # this behind, and the row is picked up again (same key, so no double send) once it passes.
    claimed_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    message_id = models.CharField(max_length=120, blank=True, help_text="Messaging's id, once acknowledged.")
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # channel before profile: a dispatcher walks one source's channel in profile order.
            models.UniqueConstraint(
                fields=["club", "source_kind", "source_id", "channel", "profile"], name="uniq_message_send"
            ),
        ]
        indexes = [
            # The frequency cap: what this profile was sent on this channel lately.
            models.Index(fields=["club", "profile", "channel", "sent_at"], name="message_send_recent"),
            models.Index(
                fields=["club", "due_at"], name="message_send_open", condition=Q(status__in=OPEN_SEND_STATUSES)
            ),
            # The ledger's admin list, newest first, a page at a time (no sort of the club's rows).
            models.Index(fields=["club", "-created_at", "-id"], name="message_send_newest"),
        ]

    def __str__(self):
        return f"{self.channel} to profile {self.profile_id} ({self.status})"

    @property
    def idempotency_key(self) -> str:
        return send_idempotency_key(
            club_id=self.club_id,
            source_kind=self.source_kind,
            source_id=self.source_id,
            channel=self.channel,
            profile_id=self.profile_id,
        )


class SendDispatchStatus(models.TextChoices):
    IDLE = "idle", "Idle"
    RUNNING = "running", "Running"


class SendDispatch(ClubScopedModel):
    """The lease on one source's dispatch (crm/kernel/leases.py): at most one chain of dispatch
    tasks works through a source at a time. Written by the first dispatch of the source."""

    source_kind = models.CharField(max_length=16, choices=SendSourceKind.choices)
    source_id = models.PositiveBigIntegerField()
    status = models.CharField(max_length=10, choices=SendDispatchStatus.choices, default=SendDispatchStatus.IDLE)
    heartbeat_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["club", "source_kind", "source_id"], name="uniq_send_dispatch_source"),
        ]

    def __str__(self):
        return f"Dispatch of {self.get_source_kind_display().lower()} {self.source_id} ({self.status})"


def send_idempotency_key(*, club_id: int, source_kind: str, source_id: int, channel: str, profile_id: int) -> str:
    """The recipient key Messaging deduplicates on: the ledger row's unique fields, nothing else,
    so it is the same on every attempt and different for every row."""
    return f"fairway-send-{club_id}-{source_kind}-{source_id}-{channel}-{profile_id}"


class SendPolicy(ClubScopedModel):
    """A club's limits on what the ledger sends (SPEC 9): a frequency cap per channel over a rolling
    window, and quiet hours in the club's timezone. A club without a row has neither."""

    club = models.OneToOneField("crm.Club", on_delete=models.CASCADE, related_name="send_policy")
    frequency_cap_messages = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="At most this many messages per channel per profile; empty for no cap."
    )
    frequency_cap_days = models.PositiveSmallIntegerField(default=7, help_text="…in this many rolling days.")
    quiet_hours_start = models.TimeField(null=True, blank=True, help_text="Local time (the club's timezone).")
    quiet_hours_end = models.TimeField(null=True, blank=True, help_text="Local time; may be after midnight.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(frequency_cap_days__gte=1), name="send_policy_cap_days_positive"),
            models.CheckConstraint(
                condition=Q(quiet_hours_start__isnull=True, quiet_hours_end__isnull=True)
                | Q(quiet_hours_start__isnull=False, quiet_hours_end__isnull=False),
                name="send_policy_quiet_hours_both_or_neither",
            ),
        ]

    def __str__(self):
        return f"Send policy of {self.club}"


class SuppressionReason(models.TextChoices):
    BOUNCED = "bounced", "Bounced"
    COMPLAINED = "complained", "Complained (spam report)"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
    MANUAL = "manual", "Added by staff"


class Suppression(ClubScopedModel):
    """Never send on this channel to this profile or address, whatever its consent flags say (a hard
    bounce, a complaint). An address is matched against the profile's current one, so a profile
    that takes on a suppressed address is suppressed too."""

    channel = models.CharField(max_length=10, choices=SendChannel.choices)
    profile = models.ForeignKey(
        "crm.CustomerProfile", on_delete=models.CASCADE, related_name="+", null=True, blank=True, db_index=False
    )
    address = models.CharField(max_length=254, blank=True, help_text="Normalised email (lower-case) or phone (E.164).")
    reason = models.CharField(max_length=12, choices=SuppressionReason.choices)
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(profile__isnull=False) | ~Q(address=""), name="suppression_names_profile_or_address"
            ),
            models.UniqueConstraint(
                fields=["club", "channel", "profile"],
                condition=Q(profile__isnull=False),
                name="uniq_suppression_profile",
            ),
            models.UniqueConstraint(
                fields=["club", "channel", "address"], condition=~Q(address=""), name="uniq_suppression_address"
            ),
        ]

    def __str__(self):
        return f"{self.channel} suppression ({self.reason})"
