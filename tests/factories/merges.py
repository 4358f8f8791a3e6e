"""Merge suggestions: two profiles of one club that may be one person."""

import factory

from crm.models import MergeSuggestion
from tests.factories.profiles import ProfileFactory


class MergeSuggestionFactory(factory.django.DjangoModelFactory):
    """A pending suggestion, stored lowest profile id first as the matcher stores it."""

    class Meta:
        model = MergeSuggestion

    profile_a = factory.SubFactory(ProfileFactory)
    profile_b = factory.SubFactory(ProfileFactory, club=factory.SelfAttribute("..profile_a.club"))
    club = factory.LazyAttribute(lambda suggestion: suggestion.profile_a.club)
    score = 0.82
    evidence = factory.LazyFunction(lambda: {"name": {"result": "similar"}})

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        kwargs["profile_a"], kwargs["profile_b"] = sorted(
            (kwargs["profile_a"], kwargs["profile_b"]), key=lambda profile: profile.pk
        )
        return super()._create(model_class, *args, **kwargs)
