import zoneinfo
from enum import StrEnum

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.utils.text import slugify

TIMEZONE_CHOICES = sorted((name, name) for name in zoneinfo.available_timezones())


class Club(models.Model):
    """The tenant. Each club is its own data controller (POPIA/GDPR): nothing crosses clubs."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2, e.g. ZA, GB.")
    timezone = models.CharField(max_length=64, choices=TIMEZONE_CHOICES, default="UTC")
    default_phone_region = models.CharField(
        max_length=2, help_text="Region used to read phone numbers written without +country code."
    )
    currency = models.CharField(max_length=3, default="ZAR")
    settings = models.JSONField(
        default=dict, blank=True, help_text="Per-club tuning (identity thresholds, scoring weights, ...)."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        self.country = self.country.upper()
        self.default_phone_region = (self.default_phone_region or self.country).upper()
        self.slug = self.slug or slugify(self.name)
        super().save(*args, **kwargs)


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra):
        if not email:
            raise ValueError("Staff users need an email address.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email, password=None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        return self._create_user(email, password, **extra)


class User(AbstractUser):
    """A staff login. Email is the username; what a user may do depends on their role per club."""

    username = None
    email = models.EmailField("email address", unique=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = []

    objects = UserManager()

    def __str__(self):
        return self.email


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    MARKETER = "marketer", "Marketer"
    STAFF = "staff", "Front desk staff"
    VIEWER = "viewer", "Viewer (read-only)"


class Capability(StrEnum):
    VIEW = "view"
    EDIT_PROFILES = "edit_profiles"  # profile fields, notes, tags
    EXPORT = "export"  # personal data leaving the system
    MARKET = "market"  # segments, campaigns, journeys, social
    MANAGE_STAFF = "manage_staff"
    MANAGE_CLUB = "manage_club"  # club settings, integration secrets


ROLE_CAPABILITIES: dict[str, frozenset[Capability]] = {
    Role.OWNER: frozenset(Capability),
    Role.ADMIN: frozenset(Capability),
    Role.MARKETER: frozenset({Capability.VIEW, Capability.EDIT_PROFILES, Capability.EXPORT, Capability.MARKET}),
    Role.STAFF: frozenset({Capability.VIEW, Capability.EDIT_PROFILES}),
    Role.VIEWER: frozenset({Capability.VIEW}),
}


def role_allows(role: str | None, capability: Capability) -> bool:
    return role is not None and capability in ROLE_CAPABILITIES.get(role, frozenset())


class ClubMembership(models.Model):
    """A staff user's role in one club. A user may hold roles in several clubs."""

    club = models.ForeignKey(Club, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="club_memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["club", "user"], name="uniq_membership_club_user")]
        ordering = ["club__name", "user__email"]

    def __str__(self):
        return f"{self.user} — {self.get_role_display()} at {self.club}"
