"""Segments over REST: CRUD with rule validation, preview, refresh, members, static lists, scopes,
and a second club that can neither see nor touch the first club's segments."""

import pytest

from crm.models import AuditLog, Role
from marketing.models import Segment, SegmentChange, SegmentKind, SegmentMember
from tests.factories import ProfileFactory, SegmentFactory
from tests.factories.api import api_for

READ = ("segments:read",)
WRITE = ("segments:read", "segments:write", "profiles:read")
GOLD = {"field": "tier", "op": "eq", "value": "Gold"}
JSON = {"content_type": "application/json"}


@pytest.fixture
def gold_people(club_a):
    return [ProfileFactory(club=club_a, membership_tier="Gold") for _ in range(3)]


def create(client, **body):
    return client.post("/api/v1/segments", body, **JSON)


def test_a_dynamic_segment_is_created_refreshed_and_audited(club_a, gold_people, django_capture_on_commit_callbacks):
    ProfileFactory(club=club_a, membership_tier="Silver")
    with django_capture_on_commit_callbacks(execute=True):
        response = create(api_for(club_a, *WRITE), name="Gold members", rule=GOLD)
    assert response.status_code == 201, response.json()
    body = response.json()
    segment = Segment.objects.for_club(club_a).get(pk=body["id"])
    # The refresh queued after commit has filled the membership (tasks run in-process in tests).
    assert segment.member_count == 3 and segment.last_refreshed_at is not None
    assert set(SegmentMember.objects.for_club(club_a).values_list("profile_id", flat=True)) == {
        person.pk for person in gold_people
    }
    assert AuditLog.objects.for_club(club_a).filter(action="segment.create", object_id=str(segment.pk)).exists()


def test_an_invalid_rule_is_refused_with_every_path_and_nothing_is_stored(club_a):
    rule = {"all": [{"field": "tier", "op": "between", "value": "Gold"}, {"field": "nope", "op": "eq", "value": 1}]}
    response = create(api_for(club_a, *WRITE), name="Broken", rule=rule)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_rule"
    paths = {problem["path"] for problem in error["details"]["errors"]}
    assert any(path.startswith("$.all[0]") for path in paths) and any(path.startswith("$.all[1]") for path in paths)
    assert not Segment.objects.for_club(club_a).exists()
    assert create(api_for(club_a, *WRITE), name="No rule").json()["error"]["code"] == "invalid_rule"


def test_names_are_unique_in_a_club_but_not_across_clubs(club_a, club_b):
    assert create(api_for(club_a, *WRITE), name="Gold", rule=GOLD).status_code == 201
    again = create(api_for(club_a, *WRITE), name="  gold ", rule=GOLD)
    assert again.status_code == 400 and again.json()["error"]["code"] == "segment_name_taken"
    assert create(api_for(club_b, *WRITE), name="Gold", rule=GOLD).status_code == 201


@pytest.fixture
def gold_and_built_on_it(club_a):
    """A Gold segment and "Gold regulars" built on it, created through the API."""
    client = api_for(club_a, *WRITE)
    base = create(client, name="Gold", rule=GOLD).json()["id"]
    built = create(client, name="Gold regulars", rule={"all": [{"segment": base}]}).json()["id"]
    return client, base, built


def test_a_rule_that_would_close_a_cycle_of_segments_is_refused(club_a, gold_and_built_on_it):
    client, base, built = gold_and_built_on_it
    cycle = client.patch(f"/api/v1/segments/{base}", {"rule": {"any": [GOLD, {"segment": built}]}}, **JSON)
    assert cycle.status_code == 400 and "cycle" in str(cycle.json()["error"]["details"])
    assert Segment.objects.for_club(club_a).get(pk=base).rule == GOLD  # unchanged


def test_a_segment_cannot_be_built_on_itself(club_a, gold_and_built_on_it):
    client, base, _ = gold_and_built_on_it
    itself = client.patch(f"/api/v1/segments/{base}", {"rule": {"segment": base}}, **JSON)
    assert itself.status_code == 400
    assert Segment.objects.for_club(club_a).get(pk=base).rule == GOLD  # unchanged


def test_a_rule_naming_another_clubs_segment_names_no_segment(club_a, club_b):
    theirs = create(api_for(club_b, *WRITE), name="Theirs", rule=GOLD).json()["id"]
    foreign = create(api_for(club_a, *WRITE), name="Borrowed", rule={"segment": theirs})
    assert foreign.status_code == 400 and "No segment" in str(foreign.json()["error"]["details"])
    assert not Segment.objects.for_club(club_a).exists()


def test_a_segment_others_are_built_on_is_deleted_only_after_them(club_a, gold_and_built_on_it):
    client, base, built = gold_and_built_on_it
    in_use = client.delete(f"/api/v1/segments/{base}")
    assert in_use.status_code == 400 and in_use.json()["error"]["details"]["used_by"] == ["Gold regulars"]
    assert client.delete(f"/api/v1/segments/{built}").status_code == 204
    assert client.delete(f"/api/v1/segments/{base}").status_code == 204
    assert not Segment.objects.for_club(club_a).exists()


def test_preview_counts_explains_and_samples_without_saving(club_a, gold_people):
    response = api_for(club_a, *READ, "profiles:read").post("/api/v1/segments/preview", {"rule": GOLD}, **JSON)
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3 and len(body["sample"]) == 3
    assert {row["id"] for row in body["sample"]} == {person.pk for person in gold_people}
    assert "Gold" in body["explanation"]
    assert not Segment.objects.for_club(club_a).exists()
    # Without profiles:read a key learns how many, never who.
    counted = api_for(club_a, *READ).post("/api/v1/segments/preview", {"rule": GOLD}, **JSON).json()
    assert counted["count"] == 3 and counted["sample"] == []
    bad = api_for(club_a, *READ).post("/api/v1/segments/preview", {"rule": {"all": []}}, **JSON)
    assert bad.status_code == 400 and bad.json()["error"]["details"]["errors"][0]["path"] == "$.all"


def test_editing_the_rule_refreshes_and_refresh_on_demand_reports_the_difference(
    club_a, gold_people, django_capture_on_commit_callbacks
):
    client = api_for(club_a, *WRITE)
    segment_id = create(client, name="Gold", rule=GOLD).json()["id"]
    silver = ProfileFactory(club=club_a, membership_tier="Silver")
    with django_capture_on_commit_callbacks(execute=True):
        edited = client.patch(
            f"/api/v1/segments/{segment_id}", {"rule": {"field": "tier", "op": "eq", "value": "Silver"}}, **JSON
        )
    assert edited.status_code == 200
    assert Segment.objects.for_club(club_a).get(pk=segment_id).member_count == 1
    ProfileFactory(club=club_a, membership_tier="Silver")
    refreshed = client.post(f"/api/v1/segments/{segment_id}/refresh")
    assert refreshed.status_code == 200
    assert {key: refreshed.json()[key] for key in ("entered", "exited", "member_count")} == {
        "entered": 1, "exited": 0, "member_count": 2,
    }
    assert silver.pk in set(SegmentMember.objects.for_club(club_a).values_list("profile_id", flat=True))
    kind = client.patch(f"/api/v1/segments/{segment_id}", {"kind": "static"}, **JSON)
    assert kind.status_code == 400


def test_members_are_cursor_paged_newest_first(club_a, django_capture_on_commit_callbacks):
    client = api_for(club_a, *WRITE)
    people = [ProfileFactory(club=club_a, membership_tier="Gold") for _ in range(5)]
    with django_capture_on_commit_callbacks(execute=True):
        segment_id = create(client, name="Gold", rule=GOLD).json()["id"]
    seen, cursor = [], None
    for _ in range(5):
        params = {"page_size": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get(f"/api/v1/segments/{segment_id}/members", params)
        assert page.status_code == 200
        seen += [row["profile"]["id"] for row in page.json()["results"]]
        cursor = page.json()["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(person.pk for person in people) and len(seen) == 5
    assert client.get(f"/api/v1/segments/{segment_id}/members", {"cursor": "junk"}).status_code == 400
    assert client.get(f"/api/v1/segments/{segment_id}/members", {"page_size": 0}).status_code == 400
    # Members are personal data: a segments-only key may see the segment but not who is in it.
    assert api_for(club_a, *READ).get(f"/api/v1/segments/{segment_id}/members").status_code == 403


def test_static_segments_are_hand_picked_with_changes_recorded(club_a, club_b):
    client = api_for(club_a, *WRITE)
    ours = [ProfileFactory(club=club_a) for _ in range(2)]
    theirs = ProfileFactory(club=club_b)
    segment_id = create(client, name="Committee", kind="static").json()["id"]
    added = client.post(
        f"/api/v1/segments/{segment_id}/members/add", {"profile_ids": [ours[0].pk, ours[1].pk, theirs.pk]}, **JSON
    )
    assert added.json() == {"changed": 2, "member_count": 2}
    again = client.post(f"/api/v1/segments/{segment_id}/members/add", {"profile_ids": [ours[0].pk]}, **JSON)
    assert again.json() == {"changed": 0, "member_count": 2}
    removed = client.post(f"/api/v1/segments/{segment_id}/members/remove", {"profile_ids": [ours[0].pk]}, **JSON)
    assert removed.json() == {"changed": 1, "member_count": 1}
    history = SegmentChange.objects.for_club(club_a).order_by("pk").values_list("profile_id", "change")
    assert list(history) == [(ours[0].pk, "entered"), (ours[1].pk, "entered"), (ours[0].pk, "exited")]
    assert AuditLog.objects.for_club(club_a).filter(action="segment.members_add").count() == 2
    assert not SegmentMember.objects.unscoped_across_clubs().filter(profile=theirs).exists()


def test_a_static_segment_takes_no_rule(club_a):
    static_rule = create(api_for(club_a, *WRITE), name="Odd", kind="static", rule=GOLD)
    assert static_rule.status_code == 400
    assert not Segment.objects.for_club(club_a).exists()


def test_a_rule_based_segment_is_not_hand_picked(club_a):
    client = api_for(club_a, *WRITE)
    dynamic_id = create(client, name="Gold", rule=GOLD).json()["id"]
    by_hand = client.post(
        f"/api/v1/segments/{dynamic_id}/members/add", {"profile_ids": [ProfileFactory(club=club_a).pk]}, **JSON
    )
    assert by_hand.status_code == 400
    assert not SegmentMember.objects.for_club(club_a).exists()


def test_a_static_segment_is_not_refreshed(club_a):
    client = api_for(club_a, *WRITE)
    segment_id = create(client, name="Committee", kind="static").json()["id"]
    assert client.post(f"/api/v1/segments/{segment_id}/refresh").status_code == 400


def test_scopes_and_roles_decide_who_may_change_segments(club_a, client_for):
    assert create(api_for(club_a, *READ), name="Gold", rule=GOLD).status_code == 403
    assert api_for(club_a, "profiles:read").get("/api/v1/segments").status_code == 403
    staff = client_for(club_a, Role.STAFF)
    assert staff.post("/api/v1/segments", {"name": "Gold", "rule": GOLD}, **JSON).status_code == 403
    assert staff.get("/api/v1/segments").status_code == 200
    marketer = client_for(club_a, Role.MARKETER)
    assert marketer.post("/api/v1/segments", {"name": "Gold", "rule": GOLD}, **JSON).status_code == 201
    assert Segment.objects.for_club(club_a).get().kind == SegmentKind.DYNAMIC


def test_the_rule_schema_and_field_registry_are_published(club_a):
    body = api_for(club_a, *READ).get("/api/v1/segments/schema").json()
    assert "$defs" in body["schema"] or "oneOf" in body["schema"] or "anyOf" in body["schema"]
    tier = next(field for field in body["fields"] if field["name"] == "tier")
    assert tier["label"] == "Membership tier" and "in" in tier["operators"]


def test_refreshing_a_stored_rule_that_no_longer_validates_is_a_400(club_a):
    segment = SegmentFactory(club=club_a, name="Old", rule={"field": "shoe_size", "op": "eq", "value": 9})
    response = api_for(club_a, *WRITE).post(f"/api/v1/segments/{segment.pk}/refresh")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_rule"
    assert response.json()["error"]["details"]["errors"][0]["path"] == "$.field"


def test_numbers_must_be_finite(club_a):
    # JSON has no NaN, but a form or the admin could produce one; the database would refuse it.
    from marketing.services.rules.grammar import rule_validate

    assert rule_validate({"field": "handicap", "op": "gt", "value": float("nan")})
    assert rule_validate({"field": "handicap", "op": "lt", "value": float("inf")})


def test_an_activity_property_called_segment_is_not_a_segment_reference(club_a):
    # Only {"segment": id} conditions refer to segments; an event property may share the name.
    rule = {"activity": {"type": "booking.created", "properties": {"segment": 7}}}
    response = create(api_for(club_a, *WRITE), name="Segment-7 bookings", rule=rule)
    assert response.status_code == 201, response.json()


def test_a_missing_segment_is_named_at_its_path(club_a):
    rule = {"all": [GOLD, {"not": {"segment": 999}}]}
    response = create(api_for(club_a, *WRITE), name="Ghost", rule=rule)
    assert response.status_code == 400
    assert response.json()["error"]["details"]["errors"] == [
        {"path": "$.all[1].not.segment", "message": "No segment 999 in this club."}
    ]


def test_segments_built_on_a_list_or_a_rule_follow_it_without_waiting_for_the_sweep(
    club_a, django_capture_on_commit_callbacks
):
    def members(segment) -> set[int]:
        return set(SegmentMember.objects.for_club(club_a).filter(segment=segment).values_list("profile_id", flat=True))

    client = api_for(club_a, *WRITE)
    ann, bob = ProfileFactory(club=club_a, membership_tier="Gold"), ProfileFactory(club=club_a, membership_tier="Gold")
    committee = create(client, name="Committee", kind="static").json()["id"]
    gold_committee = SegmentFactory(
        club=club_a, name="Gold on the committee", rule={"all": [GOLD, {"segment": committee}]}
    )
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/api/v1/segments/{committee}/members/add", {"profile_ids": [ann.pk]}, **JSON)
    assert members(gold_committee) == {ann.pk}

    gold = create(client, name="Gold", rule={"field": "tier", "op": "eq", "value": "Silver"}).json()["id"]
    regulars = SegmentFactory(club=club_a, name="Gold regulars", rule={"segment": gold})
    with django_capture_on_commit_callbacks(execute=True):
        client.patch(f"/api/v1/segments/{gold}", {"rule": GOLD}, **JSON)
    assert members(regulars) == {ann.pk, bob.pk}
