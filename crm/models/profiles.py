from django.conf import settings
from django.db import models
from django.db.models import Q

from crm.identity import matching
from crm.identity.identifiers import SHARED_IDENTIFIER_KINDS
from crm.kernel.tenancy import ClubScopedModel


class MembershipStatus(models.TextChoices):
    PROSPECT = "prospect", "Prospect"
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"
    LAPSED = "lapsed", "Lapsed"
    RESIGNED = "resigned", "Resigned"


class LifecycleStage(models.TextChoices):
    NEW = "new", "New"
    ACTIVE = "active", "Active"
    AT_RISK = "at_risk", "At risk"
    LAPSED = "lapsed", "Lapsed"
    CHURNED = "churned", "Churned"


class Gender(models.TextChoices):
    FEMALE = "female", "Female"
    MALE = "male", "Male"
    OTHER = "other", "Other"
    UNDISCLOSED = "undisclosed", "Prefers not to say"


class CustomerProfile(ClubScopedModel):
    """One person at one club, joined from SCL, TeeTime and Messaging (SPEC 4).

    `field_sources` is the survivorship bookkeeping: for each field, which source last set it
    and the `occurred_at` of that change, e.g. {"primary_email": {"source": "scl",
    "at": "2026-05-01T10:00:00+00:00"}}. Writers go through the profile services, which use it
    to decide whether an incoming value may overwrite the stored one.
    """

    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    primary_email = models.EmailField(blank=True, help_text="Normalised: trimmed and lower-case.")
    primary_phone = models.CharField(max_length=20, blank=True, help_text="E.164, e.g. +27821234567.")
    date_of_birth = models.DateField(null=True, blank=True)
    gender = models.CharField(max_length=12, choices=Gender.choices, blank=True)
    address_line = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    postcode = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=2, blank=True)
    locale = models.CharField(max_length=10, blank=True)
    timezone = models.CharField(max_length=64, blank=True)

    # Membership, denormalised from SCL.
    member_number = models.CharField(max_length=40, blank=True)
    membership_status = models.CharField(max_length=12, choices=MembershipStatus.choices, blank=True)
    membership_tier = models.CharField(max_length=40, blank=True)
    membership_joined_on = models.DateField(null=True, blank=True)
    membership_renewal_on = models.DateField(null=True, blank=True)
    membership_lapsed_on = models.DateField(null=True, blank=True)

    # Golf, denormalised from TeeTime.
    handicap_index = models.DecimalField(max_digits=4, decimal_places=1, null=True, blank=True)
    home_course = models.CharField(max_length=100, blank=True)
    rounds_played = models.PositiveIntegerField(default=0)
    last_round_at = models.DateTimeField(null=True, blank=True)

    # Consent: a copy of Messaging's flags, written only from Messaging consent events (SPEC 1).
    email_opt_in = models.BooleanField(default=False)
    sms_opt_in = models.BooleanField(default=False)
    push_opt_in = models.BooleanField(default=False)
    whatsapp_opt_in = models.BooleanField(default=False)
    consent_updated_at = models.DateTimeField(null=True, blank=True)

    lifecycle_stage = models.CharField(max_length=10, choices=LifecycleStage.choices, default=LifecycleStage.NEW)
    engagement_score = models.PositiveSmallIntegerField(null=True, blank=True)
    churn_risk = models.FloatField(null=True, blank=True, help_text="Probability 0–1 of lapsing in 90 days.")

    tags = models.ManyToManyField("crm.Tag", through="crm.ProfileTag", related_name="profiles", blank=True)
    custom_attributes = models.JSONField(default=dict, blank=True)
    field_sources = models.JSONField(default=dict, blank=True, editable=False)

    merged_into = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="merged_profiles",
        help_text="Set when this profile was merged away into another.",
    )
    # Blocking key for probabilistic matching: surname sound + first initial (SPEC 5).
    name_key = models.CharField(max_length=12, blank=True, editable=False)
    is_erased = models.BooleanField(default=False)
    erased_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "customer profile"
        indexes = [
            models.Index(fields=["club", "last_name", "first_name"], name="profile_club_name"),
            models.Index(fields=["club", "primary_email"], name="profile_club_email"),
            models.Index(fields=["club", "primary_phone"], name="profile_club_phone"),
            models.Index(fields=["club", "member_number"], name="profile_club_member_number"),
            models.Index(fields=["club", "membership_status"], name="profile_club_status"),
            models.Index(fields=["club", "lifecycle_stage"], name="profile_club_lifecycle"),
            models.Index(fields=["club", "-updated_at"], name="profile_club_updated"),
            models.Index(fields=["club", "name_key"], name="profile_club_name_key"),
            models.Index(fields=["club", "date_of_birth"], name="profile_club_dob"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(engagement_score__isnull=True) | Q(engagement_score__lte=100),
                name="profile_engagement_score_0_100",
            ),
            models.CheckConstraint(
                condition=Q(churn_risk__isnull=True) | (Q(churn_risk__gte=0) & Q(churn_risk__lte=1)),
                name="profile_churn_risk_0_1",
            ),
        ]

    def __str__(self):
        return self.display_name

    def save(self, *args, **kwargs):
        self.refresh_name_key()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and {"first_name", "last_name"} & set(update_fields):
            kwargs["update_fields"] = {*update_fields, "name_key"}
        super().save(*args, **kwargs)

    def refresh_name_key(self) -> bool:
        """Recompute the blocking key from the names; True if it changed (bulk writers add the field)."""
        key = matching.name_key(self.first_name, self.last_name)
        changed = key != self.name_key
        self.name_key = key
        return changed

    @property
    def display_name(self) -> str:
        if self.is_erased:
            return f"Erased profile #{self.pk}"
        name = f"{self.first_name} {self.last_name}".strip()
        return name or self.primary_email or self.primary_phone or f"Profile #{self.pk}"


class ProfileIdentifier(ClubScopedModel):
    """A key that points at a profile: a system id, an email, a phone (normalised)."""

    profile = models.ForeignKey(CustomerProfile, on_delete=models.CASCADE, related_name="identifiers")
    kind = models.CharField(max_length=40, help_text="One of the built-in kinds or a custom kind (lower_snake_case).")
    value = models.CharField(max_length=254)
    source = models.CharField(max_length=20)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["club", "kind", "value", "profile"], name="uniq_identifier_per_profile"),
            models.UniqueConstraint(
                fields=["club", "kind", "value"],
                condition=~Q(kind__in=sorted(SHARED_IDENTIFIER_KINDS)),
                name="uniq_strong_identifier_per_club",
            ),
        ]
        indexes = [models.Index(fields=["club", "profile"], name="identifier_club_profile")]

    def __str__(self):
        return f"{self.kind}: {self.value}"


class Tag(ClubScopedModel):
    name = models.CharField(max_length=60)
    color = models.CharField(max_length=7, default="#2f6f4f", help_text="Hex colour for chips, e.g. #2f6f4f.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["club", "name"], name="uniq_tag_club_name")]

    def __str__(self):
        return self.name


class ProfileTag(ClubScopedModel):
    """A tag on a profile, with who added it and when (segments can ask "tagged in the last 7 days")."""

    profile = models.ForeignKey(CustomerProfile, on_delete=models.CASCADE, related_name="profile_tags")
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="profile_tags")
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["club", "profile", "tag"], name="uniq_profile_tag")]
        indexes = [models.Index(fields=["club", "tag"], name="profiletag_club_tag")]

    def __str__(self):
        return self.tag.name if self.tag_id else "tag"


class Note(ClubScopedModel):
    profile = models.ForeignKey(CustomerProfile, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    body = models.TextField()
    is_pinned = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    edited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-is_pinned", "-created_at"]
        indexes = [models.Index(fields=["club", "profile", "-created_at"], name="note_club_profile")]

    def __str__(self):
        return self.body[:60]

    @property
    def is_edited(self) -> bool:
        return self.edited_at is not None
