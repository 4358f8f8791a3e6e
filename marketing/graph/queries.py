"""marketing's GraphQL queries: `segments` and `segment(id)`, both needing `segments:read`."""

import graphene

from crm.edges.graph import invalid_fields, parse_id, require_scope
from crm.models import ApiScope
from marketing.graph.types import SegmentType
from marketing.models import Segment, SegmentKind
from marketing.selectors import segments_in_order


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
        segments = segments_in_order(club=info.context.club)
        if kind:
            if kind not in SegmentKind.values:
                raise invalid_fields({"kind": ["dynamic or static."]})
            segments = segments.filter(kind=kind)
        return segments

    def resolve_segment(root, info, id):
        require_scope(info, ApiScope.SEGMENTS_READ)
        return Segment.objects.for_club(info.context.club).filter(pk=parse_id(id, "id")).first()
