import datetime

import factory
from django.utils import timezone

from crm.models import Activity, Club, ClubMembership, CustomerProfile, Note, ProfileIdentifier, Role, Tag, User


class ClubFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Club
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Club {n}")
    slug = factory.Sequence(lambda n: f"club-{n}")
    country = "ZA"
    default_phone_region = "ZA"
    timezone = "Africa/Johannesburg"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("email",)
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"staff{n}@example.test")
    password = factory.django.Password("correct-horse-battery")
    is_staff = True


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ClubMembership

    club = factory.SubFactory(ClubFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.STAFF


class ProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomerProfile

    club = factory.SubFactory(ClubFactory)
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    primary_email = factory.Sequence(lambda n: f"person{n}@example.test")
    membership_status = "active"
    membership_tier = "Gold"


class IdentifierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProfileIdentifier

    profile = factory.SubFactory(ProfileFactory)
    club = factory.LazyAttribute(lambda i: i.profile.club)
    kind = "email"
    value = factory.Sequence(lambda n: f"key{n}@example.test")
    source = "scl"
    first_seen_at = factory.LazyFunction(timezone.now)
    last_seen_at = factory.LazyFunction(timezone.now)


class ActivityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Activity

    profile = factory.SubFactory(ProfileFactory)
    club = factory.LazyAttribute(lambda a: a.profile.club)
    occurred_at = factory.LazyFunction(timezone.now)
    source = "teetime"
    type = "round.completed"
    summary = "Played 18 holes"


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag

    club = factory.SubFactory(ClubFactory)
    name = factory.Sequence(lambda n: f"tag {n}")


class NoteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Note

    profile = factory.SubFactory(ProfileFactory)
    club = factory.LazyAttribute(lambda n: n.profile.club)
    body = "Prefers early tee times."


def days_ago(days: float) -> datetime.datetime:
    return timezone.now() - datetime.timedelta(days=days)
