"""Profiles over REST: list/search, the 360 read, staff-field updates, the timeline (SPEC 14)."""

from dataclasses import replace

from django.db.models import Prefetch
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from crm.api.identifiers import IdentifierSerializer
from crm.edges.api.auth import ClubApiView, request_scopes
from crm.edges.api.errors import ApiError, query_datetime, query_int
from crm.edges.api.schema import NOT_FOUND_EXAMPLE, errors
from crm.kernel.actor import Actor
from crm.kernel.pagination import InvalidCursor
from crm.kernel.tenancy import get_object_in_club_or_404
from crm.models import Activity, CustomerProfile, Tag
from crm.selectors import (
    ProfileFilters,
    identifiers_in_order,
    profile_filtered_queryset,
    profile_timeline,
)
from crm.services.profiles import (
    SOURCE_OWNED_FIELDS,
    STAFF_EDITABLE_FIELDS,
    profile_clean_contact,
    profile_save_by_staff,
)

PROFILE_FIELDS = ("id", *STAFF_EDITABLE_FIELDS, *SOURCE_OWNED_FIELDS, "created_at", "updated_at")


class ProfileSerializer(serializers.ModelSerializer):
    tags = serializers.SerializerMethodField()

    class Meta:
        model = CustomerProfile
        fields = (*PROFILE_FIELDS, "tags")
        read_only_fields = fields

    def get_tags(self, profile) -> list[str]:
        return [tag.name for tag in profile.tags.all()]  # prefetched


class ProfileDetailSerializer(ProfileSerializer):
    identifiers = IdentifierSerializer(many=True, read_only=True)

    class Meta(ProfileSerializer.Meta):
        fields = (*ProfileSerializer.Meta.fields, "identifiers")
        read_only_fields = fields


class ProfileUpdateSerializer(serializers.ModelSerializer):
    """Only the fields staff may edit; membership, golf and consent belong to their systems."""

    class Meta:
        model = CustomerProfile
        fields = STAFF_EDITABLE_FIELDS
        extra_kwargs = {name: {"required": False} for name in STAFF_EDITABLE_FIELDS}


class ActivitySerializer(serializers.ModelSerializer):
    class Meta:
        model = Activity
        fields = ("id", "occurred_at", "source", "type", "summary", "amount", "properties")


def _profiles(club, filters: ProfileFilters | None = None):
    return profile_filtered_queryset(club=club, filters=filters or ProfileFilters()).prefetch_related(
        Prefetch("tags", queryset=Tag.objects.for_club(club).only("id", "name"))
    )


class ProfileCursorPagination(CursorPagination):
    page_size = 50
    max_page_size = 200
    page_size_query_param = "page_size"
    ordering = ("-updated_at", "-id")


ORDERINGS = {"-updated_at": ("-updated_at", "-id"), "last_name": ("last_name", "first_name", "id")}


class TimelinePageSerializer(serializers.Serializer):
    next_cursor = serializers.CharField(
        allow_null=True, help_text="Pass as `cursor` for older entries; null at the end."
    )
    results = ActivitySerializer(many=True)


class MeSerializer(serializers.Serializer):
    club = inline_serializer(
        "MeClub",
        {"slug": serializers.CharField(), "name": serializers.CharField(), "timezone": serializers.CharField()},
    )
    auth = serializers.ChoiceField(choices=["api_key", "session"])
    key = inline_serializer(
        "MeKey",
        {
            "name": serializers.CharField(),
            "prefix": serializers.CharField(),
            "expires_at": serializers.DateTimeField(allow_null=True),
        },
        allow_null=True,
    )
    scopes = serializers.ListField(child=serializers.CharField())


class ProfileListView(ClubApiView):
    """GET /api/v1/profiles?q=&status=&tier=&tag=&updated_since=&ordering=&cursor="""

    @extend_schema(
        operation_id="profiles_list",
        summary="Search and filter the club's profiles",
        parameters=[
            OpenApiParameter(
                "q", str, description="Name words (any word of a name, by prefix), email, phone or member number."
            ),
            OpenApiParameter("status", str, description="Membership status, or `none` for profiles without one."),
            OpenApiParameter("tier", str, description="Membership tier, exactly."),
            OpenApiParameter("tag", str, description="Tag name, exactly."),
            OpenApiParameter("updated_since", OpenApiTypes.DATETIME, description="Only profiles changed since (sync)."),
            OpenApiParameter("ordering", str, enum=list(ORDERINGS), description="Default `-updated_at`."),
            OpenApiParameter("cursor", str, description="From the previous page's `next`/`previous` link."),
            OpenApiParameter("page_size", int, description="1–200, default 50."),
        ],
        responses={200: ProfileSerializer(many=True), **errors(400, 401, 403, 429)},
    )
    def get(self, request):
        params = request.query_params
        updated_since = query_datetime(params, "updated_since")
        filters = replace(
            ProfileFilters.from_query(params),
            tier=params.get("tier", ""),
            tag=params.get("tag", ""),
            updated_since=updated_since,
        )
        queryset = _profiles(self.club, filters)
        ordering = request.query_params.get("ordering", "-updated_at")
        if ordering not in ORDERINGS:
            raise ApiError(
                status_code=400,
                code="invalid_ordering",
                message=f"ordering must be one of {', '.join(ORDERINGS)}.",
                details={"ordering": ordering},
            )
        paginator = ProfileCursorPagination()
        paginator.ordering = ORDERINGS[ordering]
        page = paginator.paginate_queryset(queryset, request, view=self)
        return paginator.get_paginated_response(ProfileSerializer(page, many=True).data)


class ProfileDetailView(ClubApiView):
    """GET / PATCH /api/v1/profiles/{id}: the 360 read and staff-field edits."""

    def _profile(self, profile_id):
        return get_object_in_club_or_404(
            _profiles(self.club).prefetch_related(
                Prefetch("identifiers", queryset=identifiers_in_order(club=self.club))
            ),
            self.club,
            pk=profile_id,
        )

    @extend_schema(
        operation_id="profiles_retrieve",
        summary="One profile with its identifiers and tags",
        responses={200: ProfileDetailSerializer, **errors(401, 403, 404, 429)},
        examples=[NOT_FOUND_EXAMPLE],
    )
    def get(self, request, profile_id: int):
        return Response(ProfileDetailSerializer(self._profile(profile_id)).data)

    @extend_schema(
        operation_id="profiles_update",
        summary="Edit staff-editable fields (needs profiles:write)",
        description="Membership, golf and consent fields belong to SCL, TeeTime and Messaging and are refused.",
        request=ProfileUpdateSerializer,
        responses={200: ProfileDetailSerializer, **errors(400, 401, 403, 404, 429)},
        examples=[
            OpenApiExample("Fix a phone number", value={"primary_phone": "082 555 0101"}, request_only=True),
            OpenApiExample(
                "A field that belongs to SCL",
                value={
                    "error": {
                        "code": "read_only_fields",
                        "message": "Only staff-editable fields can be changed here.",
                        "details": {"fields": {"membership_status": ["This field is read-only."]}},
                    }
                },
                response_only=True,
                status_codes=["400"],
            ),
        ],
    )
    def patch(self, request, profile_id: int):
        profile = self._profile(profile_id)
        unknown = sorted(set(request.data) - set(STAFF_EDITABLE_FIELDS)) if isinstance(request.data, dict) else []
        if unknown:
            raise ApiError(
                status_code=400,
                code="read_only_fields",
                message="Only staff-editable fields can be changed here.",
                details={"fields": {name: ["This field is read-only."] for name in unknown}},
            )
        serializer = ProfileUpdateSerializer(profile, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        values = dict(serializer.validated_data)
        values.update(
            profile_clean_contact(
                club=self.club,
                **{name: values[name] for name in ("primary_email", "primary_phone") if name in values},
            )
        )
        for name, value in values.items():
            setattr(profile, name, value)
        profile_save_by_staff(
            club=self.club, profile=profile, changed_fields=list(values), actor=Actor.from_request(request)
        )
        return Response(ProfileDetailSerializer(self._profile(profile_id)).data)


class ProfileTimelineView(ClubApiView):
    """GET /api/v1/profiles/{id}/timeline?cursor=&source=&type=&since=&until=&limit="""

    @extend_schema(
        operation_id="profiles_timeline",
        summary="A profile's timeline, newest first, cursor-paginated",
        parameters=[
            OpenApiParameter("cursor", str, description="`next_cursor` of the previous page."),
            OpenApiParameter("source", str, many=True, description="scl, teetime, messaging, crm, social, backfill."),
            OpenApiParameter("type", str, many=True, description="Event type, e.g. round.completed."),
            OpenApiParameter("since", OpenApiTypes.DATETIME),
            OpenApiParameter("until", OpenApiTypes.DATETIME),
            OpenApiParameter("limit", int, description="1–200, default 50."),
        ],
        responses={200: TimelinePageSerializer, **errors(400, 401, 403, 404, 429)},
    )
    def get(self, request, profile_id: int):
        params = request.query_params
        since, until = query_datetime(params, "since"), query_datetime(params, "until")
        limit = query_int(params, "limit", default=50, minimum=1, maximum=200)
        try:
            page = profile_timeline(
                club=self.club,
                profile=profile_id,
                as_rows=ActivitySerializer.Meta.fields,
                cursor=params.get("cursor") or None,
                limit=limit,
                sources=params.getlist("source") or None,
                types=params.getlist("type") or None,
                since=since,
                until=until,
            )
        except InvalidCursor as error:
            raise ApiError(status_code=400, code="invalid_parameter", message=str(error)) from error
        if not page.activities:  # the club's own entries were read: only an empty page can mean "not yours"
            get_object_in_club_or_404(CustomerProfile.objects.for_club(self.club).only("id"), self.club, pk=profile_id)
        return Response(
            {"next_cursor": page.next_cursor, "results": ActivitySerializer(page.activities, many=True).data}
        )


class MeView(ClubApiView):
    """GET /api/v1/me: which club and scopes this caller has."""

    @extend_schema(
        operation_id="me", summary="The caller's club and scopes", responses={200: MeSerializer, **errors(401, 429)}
    )
    def get(self, request):
        key = request.auth if hasattr(request.auth, "prefix") else None
        return Response(
            {
                "club": {"slug": self.club.slug, "name": self.club.name, "timezone": self.club.timezone},
                "auth": "api_key" if key else "session",
                "key": {"name": key.name, "prefix": key.prefix, "expires_at": key.expires_at} if key else None,
                "scopes": sorted(request_scopes(request)),
            }
        )
