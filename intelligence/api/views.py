"""The AI segment builder over REST (SPEC 8.1): POST /api/v1/segments/build-from-text.

It sits beside marketing's segment endpoints (same scopes, same 404s, the same sample rule for
who may see matching people) but is intelligence's, so marketing never imports intelligence.
"""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.response import Response

from crm.edges.api.auth import ClubApiView
from crm.edges.api.schema import errors
from crm.facade import ApiScope
from intelligence.api.serializers import BuildFromTextSerializer, DraftSerializer
from intelligence.services.segment_builder import segment_draft_from_text
from marketing.api.views import profile_sample_shown


class SegmentBuildFromTextView(ClubApiView):
    """POST /api/v1/segments/build-from-text: a sentence becomes a draft rule, explained and previewed.
    Nothing is saved; to keep it, POST the returned rule to /api/v1/segments."""

    read_scope = write_scope = ApiScope.SEGMENTS_WRITE

    @extend_schema(
        operation_id="segments_build_from_text",
        request=BuildFromTextSerializer,
        responses={200: DraftSerializer, **errors(400, 401, 403, 429)},
        description=(
            "With ANTHROPIC_API_KEY set, the model fills in a tool whose input schema is the rule grammar; "
            "without it, the offline parser handles common phrasings (docs/ai-segments.md). Invalid model output "
            "is a 502 `llm_bad_output` listing every problem; an unreachable model a 503 `llm_unavailable`; "
            "a sentence the offline parser can't read a 400 `segment_text_not_understood`."
        ),
        examples=[
            OpenApiExample(
                "SPEC 8.1",
                value={"text": "gold members who played at least 3 rounds in the last month but haven't opened "
                       "an email since June"},
                request_only=True,
            )
        ],
    )
    def post(self, request):
        serializer = BuildFromTextSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        draft = segment_draft_from_text(club=self.club, text=serializer.validated_data["text"])
        return Response(
            {
                "rule": draft.rule,
                "explanation": draft.explanation,
                "count": draft.count,
                "sample": profile_sample_shown(request, draft.sample),
                "source": draft.source,
                "model": draft.model,
            }
        )

