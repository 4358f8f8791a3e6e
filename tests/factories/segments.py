"""Marketing segments: rule-based by default, hand-picked with `static=True`."""

import factory

from marketing.models import Segment, SegmentKind
from tests.factories.clubs import ClubFactory

GOLD = {"field": "tier", "op": "eq", "value": "Gold"}


class SegmentFactory(factory.django.DjangoModelFactory):
    """A saved segment row as an admin import would leave it: not refreshed, no members yet.

    Tests that need members call `segment_refresh` (or `segment_members_add` for hand-picked
    lists) so the membership comes from the real service, never from rows written here.
    """

    class Meta:
        model = Segment

    club = factory.SubFactory(ClubFactory)
    name = factory.Sequence(lambda n: f"Segment {n}")
    kind = SegmentKind.DYNAMIC
    rule = factory.LazyFunction(lambda: dict(GOLD))

    class Params:
        static = factory.Trait(kind=SegmentKind.STATIC, rule=None)
