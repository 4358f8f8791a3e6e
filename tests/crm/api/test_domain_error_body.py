"""A service's refusal (any app's DomainError) becomes the one error body, with the status the
edge's table gives its code: services never choose statuses."""

import pytest

from crm.edges.api.errors import api_exception_handler
from crm.errors import CrmError, CrmErrorCode
from intelligence.llm import LlmBadOutput, LlmError, LlmNotConfigured, LlmUnavailable
from intelligence.services.offline_segment_parser import SegmentTextNotUnderstood
from marketing.errors import MarketingError, MarketingErrorCode


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (CrmError(CrmErrorCode.NOT_FOUND, "No such note in this club."), 404),
        (CrmError(CrmErrorCode.INVALID_TAG, "A tag name needs 1–60 characters."), 400),
        (CrmError(CrmErrorCode.NOT_PERMITTED, "Only rule-based segments are refreshed."), 400),
        (MarketingError(MarketingErrorCode.SEGMENT_NAME_TAKEN, "There is already a segment called 'Gold'."), 400),
        (SegmentTextNotUnderstood("Not understood.", understood=[], not_understood=["x"]), 400),
        (LlmBadOutput("The AI answered in words."), 502),
        (LlmUnavailable("The AI service could not be reached."), 503),
        (LlmNotConfigured("No Anthropic API key is configured."), 503),
        (LlmError("The AI call failed."), 503),  # the client's base error: any other model failure
    ],
)
def test_each_refusal_answers_with_its_codes_status_and_the_one_body(error, status):
    response = api_exception_handler(error, {})

    assert response.status_code == status
    assert response.data == {"error": {"code": str(error.code), "message": error.message, "details": error.details}}


def test_marketing_codes_keep_the_string_values_api_bodies_carry():
    assert [code.value for code in MarketingErrorCode] == [
        "invalid_rule",
        "invalid_segment",
        "segment_name_taken",
        "invalid_send",
        "send_content_fixed",
        "invalid_suppression",
    ]
