"""`Profile.segments`: the segments a person is in now, on crm's Profile 360 (needs `segments:read`).

Registered by config/graphql_schema.py before the schema is built; crm never imports marketing."""

import graphene

from crm.edges.graph import ProfileExtension, require_scope
from crm.models import ApiScope
from marketing.graph.types import SegmentType
from marketing.models import Segment, SegmentMember


def _load_profile_segments(club, profiles: list) -> None:
    """One query for the segments of a whole page of profiles."""
    memberships = (
        SegmentMember.objects.for_club(club)
        .filter(profile_id__in=[profile.pk for profile in profiles])
        .select_related("segment")
        .order_by("segment__name", "segment_id")
    )
    by_profile: dict[int, list[Segment]] = {}
    for membership in memberships:
        by_profile.setdefault(membership.profile_id, []).append(membership.segment)
    for profile in profiles:
        profile.current_segments = by_profile.get(profile.pk, [])


def _resolve_profile_segments(profile, info):
    require_scope(info, ApiScope.SEGMENTS_READ)
    return getattr(profile, "current_segments", [])


PROFILE_SEGMENTS = ProfileExtension(
    name="segments",
    field=graphene.Field(
        graphene.List(graphene.NonNull(SegmentType), required=True),
        resolver=_resolve_profile_segments,
        description="The segments this person is in now, by name (needs segments:read).",
    ),
    load=_load_profile_segments,
)
