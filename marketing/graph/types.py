"""marketing's GraphQL types: a segment with its materialised membership counts."""

import graphene
from graphene_django import DjangoObjectType

from marketing.models import Segment


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
