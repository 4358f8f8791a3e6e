"""factory_boy factories, one module per area; the package exports them all."""

from tests.factories.clubs import ClubFactory, MembershipFactory, UserFactory
from tests.factories.merges import MergeSuggestionFactory
from tests.factories.profiles import (
    ActivityFactory,
    IdentifierFactory,
    NoteFactory,
    ProfileFactory,
    ProfileTagFactory,
    TagFactory,
    days_ago,
)
from tests.factories.segments import SegmentFactory

__all__ = [
    "ActivityFactory",
    "ClubFactory",
    "IdentifierFactory",
    "MembershipFactory",
    "MergeSuggestionFactory",
    "NoteFactory",
    "ProfileFactory",
    "ProfileTagFactory",
    "SegmentFactory",
    "TagFactory",
    "UserFactory",
    "days_ago",
]
