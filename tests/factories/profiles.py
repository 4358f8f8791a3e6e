"""Profiles and what hangs off them: identifiers, timeline activities, tags and notes."""

import datetime

import factory
from django.utils import timezone

from crm.models import Activity, CustomerProfile, Note, ProfileIdentifier, ProfileTag, Tag
from tests.factories.clubs import ClubFactory


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


class ProfileTagFactory(factory.django.DjangoModelFactory):
    """A tag on a profile, written as a row (no audit, no announcement): `ProfileTagFactory(profile=ann,
    tag__name="Winter League")`. Tests of tagging itself call `profiles_tag`."""

    class Meta:
        model = ProfileTag

    profile = factory.SubFactory(ProfileFactory)
    club = factory.LazyAttribute(lambda row: row.profile.club)
    tag = factory.SubFactory(TagFactory, club=factory.SelfAttribute("..club"))


class NoteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Note

    profile = factory.SubFactory(ProfileFactory)
    club = factory.LazyAttribute(lambda n: n.profile.club)
    body = "Prefers early tee times."


def days_ago(days: float) -> datetime.datetime:
    return timezone.now() - datetime.timedelta(days=days)
