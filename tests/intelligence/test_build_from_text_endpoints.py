"""Build-from-text over REST and on the segments page: a sentence becomes a draft that is shown,
never saved, until the marketer confirms by saving it like any segment; model output that isn't a
valid rule is a clear error and stores nothing."""

from django.urls import reverse

from crm.models import Role
from marketing.models import Segment
from tests.factories import ProfileFactory
from tests.factories.api import api_for

WRITE = ("segments:read", "segments:write", "profiles:read")
JSON = {"content_type": "application/json"}
GOLD = {"field": "tier", "op": "eq", "value": "Gold"}


def test_a_model_drafted_rule_is_returned_unsaved_and_saved_only_on_confirmation(club_a, fake_anthropic):
    ProfileFactory(club=club_a, membership_tier="Gold")
    fake_anthropic.script({"tool_input": {"rule": GOLD}})
    client = api_for(club_a, *WRITE)
    draft = client.post("/api/v1/segments/build-from-text", {"text": "our gold members"}, **JSON)
    assert draft.status_code == 200, draft.json()
    body = draft.json()
    assert body["rule"] == GOLD and body["count"] == 1 and body["source"] == "llm"
    assert "Gold" in body["explanation"]
    assert not Segment.objects.for_club(club_a).exists()  # a draft is never a segment
    confirmed = client.post("/api/v1/segments", {"name": "Gold", "rule": body["rule"]}, **JSON)
    assert confirmed.status_code == 201
    assert Segment.objects.for_club(club_a).get().rule == GOLD


def test_invalid_model_output_is_a_clear_error_and_nothing_is_saved(club_a, fake_anthropic):
    fake_anthropic.script({"tool_input": {"rule": {"all": [{"field": "shoe_size", "op": "eq", "value": 9}]}}})
    response = api_for(club_a, *WRITE).post("/api/v1/segments/build-from-text", {"text": "big feet"}, **JSON)
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "llm_bad_output"
    assert any("shoe_size" in problem["message"] for problem in error["details"]["errors"])
    assert not Segment.objects.for_club(club_a).exists()


def test_an_unreachable_model_is_a_503(club_a, fake_anthropic):
    fake_anthropic.script({"status": 500}, {"status": 500}, {"status": 500})
    response = api_for(club_a, *WRITE).post("/api/v1/segments/build-from-text", {"text": "gold members"}, **JSON)
    assert response.status_code == 503 and response.json()["error"]["code"] == "llm_unavailable"


def test_offline_phrasings_work_without_a_key_and_unknown_ones_say_what_was_understood(club_a, offline):
    client = api_for(club_a, *WRITE)
    draft = client.post("/api/v1/segments/build-from-text", {"text": "gold members"}, **JSON)
    assert draft.status_code == 200 and draft.json()["source"] == "offline"
    refused = client.post("/api/v1/segments/build-from-text", {"text": "people who like jazz"}, **JSON)
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "segment_text_not_understood"
    assert refused.json()["error"]["details"]["supported_phrasings"]
    assert api_for(club_a, "segments:read").post(
        "/api/v1/segments/build-from-text", {"text": "gold members"}, **JSON
    ).status_code == 403


def test_the_page_shows_the_draft_in_the_builder_and_saves_only_on_save(client_for, club_a, offline):
    ProfileFactory(club=club_a, membership_tier="Gold")
    marketer = client_for(club_a, Role.MARKETER)
    page = marketer.post(reverse("intelligence:segment_from_text"), {"text": "gold members"})
    html = page.content.decode()
    assert page.status_code == 200 and "Draft from your sentence" in html and "offline parser" in html
    assert 'data-testid="preview-count">1<' in html
    assert not Segment.objects.for_club(club_a).exists()
    unknown = marketer.post(reverse("intelligence:segment_from_text"), {"text": "people who like jazz"})
    assert unknown.status_code == 400
    html = unknown.content.decode()
    assert "Not understood: &quot;like jazz&quot;" in html and "Phrasings the offline parser knows" in html


def test_an_invented_activity_type_from_the_model_is_refused(club_a, fake_anthropic):
    rule = {"activity": {"type": "round.complete", "count": {"op": "gte", "value": 3}}}
    fake_anthropic.script({"tool_input": {"rule": rule}})
    response = api_for(club_a, *WRITE).post("/api/v1/segments/build-from-text", {"text": "keen golfers"}, **JSON)
    assert response.status_code == 502
    assert response.json()["error"]["details"]["errors"][0]["path"] == "$.activity.type"


def test_an_offline_phrase_beyond_the_grammars_limits_is_not_understood_rather_than_a_crash(club_a, offline):
    response = api_for(club_a, *WRITE).post(
        "/api/v1/segments/build-from-text", {"text": "renewal in the next 20 years"}, **JSON
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "segment_text_not_understood"


def test_the_page_says_why_when_the_model_answers_badly_or_not_at_all(client_for, club_a, fake_anthropic):
    marketer = client_for(club_a, Role.MARKETER)
    fake_anthropic.script({"tool_input": {"rule": {"field": "shoe_size", "op": "eq", "value": 9}}})
    bad = marketer.post(reverse("intelligence:segment_from_text"), {"text": "big feet"})
    assert bad.status_code == 502 and "shoe_size" in bad.content.decode()
    fake_anthropic.script({"status": 500}, {"status": 500}, {"status": 500})
    down = marketer.post(reverse("intelligence:segment_from_text"), {"text": "gold members"})
    assert down.status_code == 503
    empty = marketer.post(reverse("intelligence:segment_from_text"), {"text": "   "})
    assert empty.status_code == 400 and "Describe the profiles you want" in empty.content.decode()
    assert not Segment.objects.for_club(club_a).exists()
