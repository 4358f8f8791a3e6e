"""Identifiers over REST: a profile's keys, and which profile holds a key (SPEC 5, 14).

The lookup is how an integration finds "our" person for its own id, email or phone without
keeping a copy of Fairway's profile ids: it normalises the value exactly as ingestion does.
"""

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from crm.edges.api.auth import ClubApiView
from crm.edges.api.errors import invalid_fields
from crm.edges.api.schema import NOT_FOUND_EXAMPLE, errors
from crm.kernel.tenancy import get_object_in_club_or_404
from crm.models import CustomerProfile, ProfileIdentifier
from crm.selectors import identifiers_in_order, identifiers_lookup


class IdentifierSerializer(serializers.ModelSerializer):
    kind = serializers.CharField(help_text="email, phone, scl_member_id, teetime_player_id, … (lower_snake_case).")
    value = serializers.CharField(help_text="Normalised: emails lower-cased, phones in E.164.")
    source = serializers.CharField(help_text="The system that told us: scl, teetime, messaging, crm, backfill.")

    class Meta:
        model = ProfileIdentifier
        fields = ("kind", "value", "source", "first_seen_at", "last_seen_at")


class IdentifierMatchSerializer(IdentifierSerializer):
    profile_id = serializers.IntegerField(help_text="The live profile holding this key (merges followed).")

    class Meta(IdentifierSerializer.Meta):
        fields = ("profile_id", *IdentifierSerializer.Meta.fields)


class ProfileIdentifiersView(ClubApiView):
    """GET /api/v1/profiles/{id}/identifiers"""

    @extend_schema(
        operation_id="profiles_identifiers",
        summary="A profile's identifiers (emails, phones, system ids)",
        responses={200: IdentifierSerializer(many=True), **errors(401, 403, 404, 429)},
        examples=[NOT_FOUND_EXAMPLE],
    )
    def get(self, request, profile_id: int):
        profile = get_object_in_club_or_404(CustomerProfile.objects.for_club(self.club), self.club, pk=profile_id)
        rows = identifiers_in_order(club=self.club).filter(profile=profile)
        return Response(IdentifierSerializer(rows, many=True).data)


class IdentifierLookupView(ClubApiView):
    """GET /api/v1/identifiers?kind=&value="""

    @extend_schema(
        operation_id="identifiers_lookup",
        summary="Which profile holds an identifier",
        description="The value is normalised as ingestion does (`082 555 0101` finds `+27825550101`). "
        "An empty list means nobody in your club has it. Shared keys (a family's phone) can return several.",
        parameters=[
            OpenApiParameter("kind", str, required=True, description="e.g. email, phone, scl_member_id."),
            OpenApiParameter("value", str, required=True),
        ],
        responses={200: IdentifierMatchSerializer(many=True), **errors(400, 401, 403, 429)},
        examples=[
            OpenApiExample(
                "An SCL member number",
                value=[
                    {
                        "profile_id": 1042,
                        "kind": "scl_member_id",
                        "value": "M1042",
                        "source": "scl",
                        "first_seen_at": "2024-03-01T08:00:00Z",
                        "last_seen_at": "2026-11-20T09:15:00Z",
                    }
                ],
                response_only=True,
            )
        ],
    )
    def get(self, request):
        missing = [name for name in ("kind", "value") if not request.query_params.get(name, "").strip()]
        if missing:
            raise invalid_fields({name: ["This parameter is required."] for name in missing})
        rows = identifiers_lookup(
            club=self.club, kind=request.query_params["kind"].strip(), raw_value=request.query_params["value"]
        )
        return Response(IdentifierMatchSerializer(rows, many=True).data)
