"""Notes, tags, merges and merge suggestions over REST (SPEC 14). Views parse, call a service, render."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from crm.edges.api.auth import ClubApiView
from crm.edges.api.errors import ApiError
from crm.edges.api.schema import errors
from crm.kernel.actor import Actor
from crm.kernel.tenancy import get_object_in_club_or_404
from crm.models import ApiScope, CustomerProfile, MergeRecord, MergeSuggestion, Note, Tag
from crm.services.merges import merge_undo, profiles_merge
from crm.services.notes import note_add, note_delete, note_edit
from crm.services.suggestions import suggestion_accept, suggestion_reject
from crm.services.tags import profiles_tag_named


class NoteSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author.email", default=None, read_only=True)

    class Meta:
        model = Note
        fields = ("id", "body", "is_pinned", "author", "created_at", "edited_at")
        read_only_fields = ("id", "author", "created_at", "edited_at")


class ProfileNotesView(ClubApiView):
    def _profile(self, profile_id):
        return get_object_in_club_or_404(CustomerProfile, self.club, pk=profile_id)

    @extend_schema(operation_id="notes_list", responses={200: NoteSerializer(many=True), **errors(401, 403, 404)})
    def get(self, request, profile_id: int):
        notes = Note.objects.for_club(self.club).filter(profile=self._profile(profile_id)).select_related("author")
        return Response(NoteSerializer(notes, many=True).data)

    @extend_schema(
        operation_id="notes_create",
        request=NoteSerializer,
        responses={201: NoteSerializer, **errors(400, 401, 403, 404)},
    )
    def post(self, request, profile_id: int):
        profile = self._profile(profile_id)
        serializer = NoteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        note = note_add(club=self.club, profile=profile, actor=Actor.from_request(request), **serializer.validated_data)
        return Response(NoteSerializer(note).data, status=status.HTTP_201_CREATED)


class NoteDetailView(ClubApiView):
    def _note(self, profile_id, note_id):
        return get_object_in_club_or_404(Note, self.club, pk=note_id, profile_id=profile_id)

    @extend_schema(
        operation_id="notes_update",
        request=NoteSerializer,
        responses={200: NoteSerializer, **errors(400, 401, 403, 404)},
    )
    def patch(self, request, profile_id: int, note_id: int):
        note = self._note(profile_id, note_id)
        serializer = NoteSerializer(note, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        note = note_edit(club=self.club, note=note, actor=Actor.from_request(request), **serializer.validated_data)
        return Response(NoteSerializer(note).data)

    @extend_schema(operation_id="notes_delete", responses={204: None, **errors(401, 403, 404)})
    def delete(self, request, profile_id: int, note_id: int):
        note_delete(club=self.club, note=self._note(profile_id, note_id), actor=Actor.from_request(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class TagChangeSerializer(serializers.Serializer):
    tag = serializers.CharField(max_length=60)
    profile_ids = serializers.ListField(child=serializers.IntegerField(), max_length=10_000, allow_empty=False)


class TagsView(ClubApiView):
    @extend_schema(
        operation_id="tags_list",
        responses={
            200: inline_serializer("TagRow", {"name": serializers.CharField(), "color": serializers.CharField()})
        },
    )
    def get(self, request):
        tags = Tag.objects.for_club(self.club).order_by("name").values("name", "color")
        return Response(list(tags))


class TagBulkView(ClubApiView):
    """POST /api/v1/tags/add and /tags/remove: tag or untag many profiles of this club at once."""

    remove = False

    @extend_schema(
        request=TagChangeSerializer,
        responses={
            200: inline_serializer("TagChangeResult", {"changed": serializers.IntegerField()}),
            **errors(400, 401, 403),
        },
    )
    def post(self, request):
        serializer = TagChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        actor = Actor.from_request(request)
        _, changed = profiles_tag_named(
            club=self.club, actor=actor, name=data["tag"], profile_ids=data["profile_ids"], remove=self.remove
        )
        return Response({"changed": changed})


class MergeSerializer(serializers.ModelSerializer):
    class Meta:
        model = MergeRecord
        fields = ("id", "survivor", "merged", "reason", "score", "evidence", "created_at", "undone_at")


class SuggestionSerializer(serializers.ModelSerializer):
    class Meta:
        model = MergeSuggestion
        fields = ("id", "profile_a", "profile_b", "score", "evidence", "status", "created_at", "decided_at")


class ProfileMergeView(ClubApiView):
    """POST /api/v1/merges {"profile_ids": [a, b]}: staff-style merge of two profiles."""

    write_scope = ApiScope.MERGES_WRITE

    @extend_schema(
        operation_id="merges_create",
        request=inline_serializer(
            "MergeRequest", {"profile_ids": serializers.ListField(child=serializers.IntegerField())}
        ),
        responses={201: MergeSerializer, **errors(400, 401, 403, 404)},
    )
    def post(self, request):
        ids = request.data.get("profile_ids") if isinstance(request.data, dict) else None
        if not isinstance(ids, list) or len(set(ids)) != 2 or not all(isinstance(pk, int) for pk in ids):
            raise ApiError(status_code=400, code="invalid", message="Send profile_ids: two different profile ids.")
        for pk in ids:
            get_object_in_club_or_404(CustomerProfile, self.club, pk=pk)
        record = profiles_merge(
            club=self.club, first_id=ids[0], second_id=ids[1], reason="staff", actor=Actor.from_request(request)
        )
        return Response(MergeSerializer(record).data, status=status.HTTP_201_CREATED)


class MergeUndoView(ClubApiView):
    write_scope = ApiScope.MERGES_WRITE

    @extend_schema(
        operation_id="merges_undo", request=None, responses={200: MergeSerializer, **errors(400, 401, 403, 404)}
    )
    def post(self, request, merge_id: int):
        get_object_in_club_or_404(MergeRecord, self.club, pk=merge_id)
        record = merge_undo(club=self.club, record_id=merge_id, actor=Actor.from_request(request))
        return Response(MergeSerializer(record).data)


class SuggestionListView(ClubApiView):
    @extend_schema(operation_id="merge_suggestions_list", responses={200: SuggestionSerializer(many=True)})
    def get(self, request):
        status_filter = request.query_params.get("status", "pending")
        rows = MergeSuggestion.objects.for_club(self.club).filter(status=status_filter).order_by("-score", "pk")[:500]
        return Response(SuggestionSerializer(rows, many=True).data)


class SuggestionDecisionView(ClubApiView):
    write_scope = ApiScope.MERGES_WRITE
    accept = True

    @extend_schema(request=None, responses={200: SuggestionSerializer, **errors(400, 401, 403, 404)})
    def post(self, request, suggestion_id: int):
        get_object_in_club_or_404(MergeSuggestion, self.club, pk=suggestion_id)
        decide = suggestion_accept if self.accept else suggestion_reject
        decide(club=self.club, suggestion_id=suggestion_id, actor=Actor.from_request(request))
        return Response(SuggestionSerializer(MergeSuggestion.objects.for_club(self.club).get(pk=suggestion_id)).data)
