"""`Profile.segments`: the segments a person is in now, on crm's Profile 360 (needs `segments:read`).

Registered by config/graphql_schema.py before the schema is built; crm never imports marketing."""

import graphene

from crm.edges.graph import ProfileExtension, require_scope
from crm.models import ApiScope
from marketing.graph.types import SegmentType
from marketing.selectors import segments_of_profiles


def _load_profile_segments(club, profiles: list) -> None:
    by_profile = segments_of_profiles(club=club, profile_ids=[profile.pk for profile in profiles])
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
