"""Segments over REST (SPEC 8, 14): CRUD, preview, refresh, members, static add/remove.

Views parse, call a service, render. The same club scoping, scopes, throttles and error body as
the rest of /api/v1/: another club's segment is a 404, a bad rule a 400 listing every problem
with its path.
"""

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from crm.edges.api.auth import ClubApiView, request_scopes
from crm.edges.api.errors import invalid_fields, query_int
from crm.edges.api.schema import errors
from crm.kernel.actor import Actor
from crm.kernel.pagination import InvalidCursor
from crm.kernel.tenancy import get_object_in_club_or_404
from crm.models import ApiScope
from marketing.api.serializers import (
    MembersPageSerializer,
    PreviewSerializer,
    ProfileIdsSerializer,
    ProfileSummarySerializer,
    RuleSerializer,
    SegmentSerializer,
    SegmentWriteSerializer,
)
from marketing.models import Segment
from marketing.selectors import segment_members_page, segments_in_order
from marketing.services.rules.fields import FIELDS
from marketing.services.rules.grammar import rule_json_schema
from marketing.services.segment_editing import (
    segment_create,
    segment_delete,
    segment_members_add,
    segment_members_remove,
    segment_rule_check,
    segment_update,
)
from marketing.services.segments import segment_preview, segment_refresh

RULE_EXAMPLE = {
    "all": [
        {"field": "tier", "op": "in", "value": ["Gold"]},
        {"activity": {"type": "round.completed", "count": {"op": "gte", "value": 3}, "within_last_days": 30}},
    ]
}


class SegmentApiView(ClubApiView):
    read_scope = ApiScope.SEGMENTS_READ
    write_scope = ApiScope.SEGMENTS_WRITE

    def _segment(self, segment_id: int) -> Segment:
        return get_object_in_club_or_404(Segment, self.club, pk=segment_id)


def profile_sample_shown(request, profiles) -> list:
    """Matching people are personal data: only callers who may read profiles see who they are
    (otherwise a segments-only key could list the club ten names at a time)."""
    if ApiScope.PROFILES_READ not in request_scopes(request):
        return []
    return ProfileSummarySerializer(profiles, many=True).data


def _preview_body(request, club, rule) -> dict:
    preview = segment_preview(club=club, rule=rule)
    sample = profile_sample_shown(request, preview.sample)
    return {"count": preview.count, "explanation": preview.explanation, "sample": sample}


class SegmentListView(SegmentApiView):
    """GET / POST /api/v1/segments"""

    @extend_schema(operation_id="segments_list", responses={200: SegmentSerializer(many=True), **errors(401, 403, 429)})
    def get(self, request):
        return Response(SegmentSerializer(segments_in_order(club=self.club), many=True).data)

    @extend_schema(
        operation_id="segments_create",
        summary="Create a dynamic (rule) or static (hand-picked) segment",
        description="A dynamic segment's members are filled by a refresh queued right after it is saved.",
        request=SegmentWriteSerializer,
        responses={201: SegmentSerializer, **errors(400, 401, 403, 429)},
        examples=[
            OpenApiExample("Gold regulars", value={"name": "Gold regulars", "rule": RULE_EXAMPLE}, request_only=True),
            OpenApiExample(
                "A rule with a problem",
                value={
                    "error": {
                        "code": "invalid_rule",
                        "message": "The rule has 1 problem(s).",
                        "details": {"errors": [{"path": "$.all[0].op", "message": "'between' needs [low, high]."}]},
                    }
                },
                response_only=True,
                status_codes=["400"],
            ),
        ],
    )
    def post(self, request):
        serializer = SegmentWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        segment = segment_create(
            club=self.club, actor=Actor.from_request(request), **serializer.validated_data
        )
        return Response(SegmentSerializer(segment).data, status=status.HTTP_201_CREATED)


class SegmentDetailView(SegmentApiView):
    """GET / PATCH / DELETE /api/v1/segments/{id}"""

    @extend_schema(operation_id="segments_retrieve", responses={200: SegmentSerializer, **errors(401, 403, 404, 429)})
    def get(self, request, segment_id: int):
        return Response(SegmentSerializer(self._segment(segment_id)).data)

    @extend_schema(
        operation_id="segments_update",
        request=SegmentWriteSerializer(partial=True),
        responses={200: SegmentSerializer, **errors(400, 401, 403, 404, 429)},
    )
    def patch(self, request, segment_id: int):
        segment = self._segment(segment_id)
        serializer = SegmentWriteSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        segment = segment_update(
            club=self.club, actor=Actor.from_request(request), segment=segment,
            **serializer.validated_data,
        )
        return Response(SegmentSerializer(segment).data)

    @extend_schema(operation_id="segments_delete", responses={204: None, **errors(400, 401, 403, 404, 429)})
    def delete(self, request, segment_id: int):
        segment = self._segment(segment_id)
        segment_delete(club=self.club, actor=Actor.from_request(request), segment=segment)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SegmentPreviewView(SegmentApiView):
    """POST /api/v1/segments/preview: count, plain-words explanation and a sample, nothing saved."""

    read_scope = write_scope = ApiScope.SEGMENTS_READ  # a POST only because a rule is a JSON body

    @extend_schema(
        operation_id="segments_preview",
        request=RuleSerializer,
        responses={200: PreviewSerializer, **errors(400, 401, 403, 429)},
        examples=[OpenApiExample("Preview", value={"rule": RULE_EXAMPLE}, request_only=True)],
    )
    def post(self, request):
        serializer = RuleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        rule = serializer.validated_data["rule"]
        segment_rule_check(club=self.club, rule=rule)
        return Response(_preview_body(request, self.club, rule))


class SegmentRefreshView(SegmentApiView):
    """POST /api/v1/segments/{id}/refresh: bring the membership up to date now."""

    @extend_schema(
        operation_id="segments_refresh",
        request=None,
        responses={
            200: inline_serializer(
                "RefreshResult",
                {
                    "entered": serializers.IntegerField(),
                    "exited": serializers.IntegerField(),
                    "member_count": serializers.IntegerField(),
                    "milliseconds": serializers.IntegerField(),
                },
            ),
            **errors(400, 401, 403, 404, 429),
        },
    )
    def post(self, request, segment_id: int):
        result = segment_refresh(club=self.club, segment=self._segment(segment_id))
        return Response(
            {
                "entered": result.entered,
                "exited": result.exited,
                "member_count": result.member_count,
                "milliseconds": result.milliseconds,
            }
        )


class SegmentMembersView(SegmentApiView):
    """GET /api/v1/segments/{id}/members: newest members first, cursor-paged. Members are personal
    data, so this needs `profiles:read` (not `segments:read`)."""

    read_scope = ApiScope.PROFILES_READ

    @extend_schema(
        operation_id="segments_members",
        parameters=[
            OpenApiParameter("cursor", str, description="`next_cursor` of the previous page."),
            OpenApiParameter("page_size", int, description="1–200, default 50."),
        ],
        responses={200: MembersPageSerializer, **errors(400, 401, 403, 404, 429)},
    )
    def get(self, request, segment_id: int):
        segment = self._segment(segment_id)
        page_size = query_int(request.query_params, "page_size", default=50, minimum=1, maximum=200)
        try:
            page = segment_members_page(
                club=self.club, segment=segment, cursor=request.query_params.get("cursor"), limit=page_size
            )
        except InvalidCursor as error:
            raise invalid_fields({"cursor": [str(error)]}) from error
        return Response(MembersPageSerializer({"next_cursor": page.next_cursor, "results": page.rows}).data)


class SegmentMembersChangeView(SegmentApiView):
    """POST /api/v1/segments/{id}/members/add and /members/remove (static segments)."""

    remove = False

    @extend_schema(
        request=ProfileIdsSerializer,
        responses={
            200: inline_serializer(
                "SegmentMembersChange",
                {"changed": serializers.IntegerField(), "member_count": serializers.IntegerField()},
            ),
            **errors(400, 401, 403, 404, 429),
        },
    )
    def post(self, request, segment_id: int):
        segment = self._segment(segment_id)
        serializer = ProfileIdsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        change = segment_members_remove if self.remove else segment_members_add
        result = change(
            club=self.club, actor=Actor.from_request(request), segment=segment,
            profile_ids=serializer.validated_data["profile_ids"],
        )
        return Response({"changed": result.changed, "member_count": result.member_count})


class SegmentRuleSchemaView(SegmentApiView):
    """GET /api/v1/segments/schema: the rule grammar as JSON Schema and the field registry."""

    @extend_schema(
        operation_id="segments_rule_schema",
        responses={
            200: inline_serializer(
                "SegmentRuleSchema", {"schema": serializers.DictField(), "fields": serializers.ListField()}
            )
        },
    )
    def get(self, request):
        fields = [
            {"name": field.name, "type": field.type, "label": field.label, "operators": list(field.operators)}
            for field in FIELDS.values()
        ]
        return Response({"schema": rule_json_schema(), "fields": fields})
