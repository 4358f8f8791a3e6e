"""Segments in GraphQL (SPEC 14): `segments`, `segment(id)` with membership counts, and the
segments a profile is in on the 360. Reading them needs `segments:read`."""

import graphene
from graphene_django import DjangoObjectType

from crm.graph.schema import ProfileExtension, invalid_fields, parse_id, profile_extension_register, require_scope
from crm.models import ApiScope
from marketing.models import Segment, SegmentKind, SegmentMember


class SegmentType(DjangoObjectType):
    rule = graphene.JSONString(description="The rule tree (dynamic segments); null for hand-picked lists.")

    class Meta:
        model = Segment
        name = "Segment"
        description = "A saved rule or hand-picked list of the club's profiles, with its materialised membership."
        fields = (
            "id", "name", "description", "kind", "member_count", "last_refreshed_at", "last_refresh_ms",
            "sync_to_messaging", "sync_status", "last_synced_at", "created_at", "updated_at",
        )
        convert_choices_to_enum = False


class SegmentQuery(graphene.ObjectType):
    segments = graphene.List(
        graphene.NonNull(SegmentType),
        required=True,
        kind=graphene.String(description="dynamic or static; both when omitted."),
        description="The club's segments by name, each with its member count.",
    )
    segment = graphene.Field(SegmentType, id=graphene.ID(required=True), description="Null when not this club's.")

    def resolve_segments(root, info, kind=None):
        require_scope(info, ApiScope.SEGMENTS_READ)
        segments = Segment.objects.for_club(info.context.club).order_by("name", "pk")
        if kind:
            if kind not in SegmentKind.values:
                raise invalid_fields({"kind": ["dynamic or static."]})
            segments = segments.filter(kind=kind)
        return segments

    def resolve_segment(root, info, id):
        require_scope(info, ApiScope.SEGMENTS_READ)
        return Segment.objects.for_club(info.context.club).filter(pk=parse_id(id, "id")).first()


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


profile_extension_register(
    ProfileExtension(
        name="segments",
        field=graphene.Field(
            graphene.List(graphene.NonNull(SegmentType), required=True),
            resolver=_resolve_profile_segments,
            description="The segments this person is in now, by name (needs segments:read).",
        ),
        load=_load_profile_segments,
    )
)
