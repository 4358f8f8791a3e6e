"""Segments in GraphQL: `segments`, `segment(id)` with counts, and the 360's `segments`, under
segments:read, one query for a page of profiles' segments, and no sight of another club's."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from marketing.models import Segment
from marketing.services.segments import segment_refresh
from tests.crm.graph.test_graphql import error_codes, run
from tests.factories import ProfileFactory, SegmentFactory
from tests.factories.api import api_for

GOLD = {"field": "tier", "op": "eq", "value": "Gold"}
READ = ("profiles:read", "segments:read")

SEGMENTS = "query($kind: String) { segments(kind: $kind) { id name kind memberCount lastRefreshedAt rule } }"
SEGMENT = "query($id: ID!) { segment(id: $id) { name memberCount lastRefreshMs syncStatus } }"
PAGE = "query { profiles(first: 50) { edges { node { id segments { name memberCount } } } } }"


def gold_segment(club, name="Gold"):
    segment = SegmentFactory(club=club, name=name, rule=GOLD)
    segment_refresh(club=club, segment=segment)
    return segment


def test_segments_list_with_counts_and_one_by_id(club_a):
    for _ in range(2):
        ProfileFactory(club=club_a, membership_tier="Gold")
    gold = gold_segment(club_a)
    SegmentFactory(club=club_a, name="Committee", static=True)
    client = api_for(club_a, *READ)
    status, body = run(client, SEGMENTS)
    assert status == 200 and "errors" not in body
    rows = body["data"]["segments"]
    assert [(row["name"], row["memberCount"]) for row in rows] == [("Committee", 0), ("Gold", 2)]
    assert rows[1]["rule"] is not None and "tier" in rows[1]["rule"]
    assert [row["name"] for row in run(client, SEGMENTS, kind="static")[1]["data"]["segments"]] == ["Committee"]
    assert error_codes(run(client, SEGMENTS, kind="odd")[1]) == ["invalid"]
    one = run(client, SEGMENT, id=str(gold.pk))[1]["data"]["segment"]
    assert one["memberCount"] == 2 and one["lastRefreshMs"] is not None and one["syncStatus"] == "never"


def test_the_360_and_a_page_of_profiles_show_their_segments_in_one_query(club_a):
    people = [ProfileFactory(club=club_a, membership_tier="Gold") for _ in range(3)]
    ProfileFactory(club=club_a, membership_tier="Silver")
    gold_segment(club_a)
    gold_segment(club_a, "Gold too")
    client = api_for(club_a, *READ)
    one = run(client, "query($id: ID!) { profile(id: $id) { segments { name } } }", id=str(people[0].pk))[1]
    assert [row["name"] for row in one["data"]["profile"]["segments"]] == ["Gold", "Gold too"]
    with CaptureQueriesContext(connection) as small:
        body = run(client, PAGE)[1]
    for _ in range(20):
        ProfileFactory(club=club_a, membership_tier="Gold")
    segment_refresh(club=club_a, segment=Segment.objects.for_club(club_a).get(name="Gold"))
    with CaptureQueriesContext(connection) as large:
        run(client, PAGE)
    assert len(large) == len(small)  # the page's segments come in one query whatever its size
    by_id = {int(edge["node"]["id"]): edge["node"]["segments"] for edge in body["data"]["profiles"]["edges"]}
    assert len(by_id[people[1].pk]) == 2 and [len(value) for value in by_id.values()].count(0) == 1


def test_segments_need_their_scope(club_a):
    # Another club's segments are covered with every root field by tests/platform/test_club_isolation_matrix.py.
    ProfileFactory(club=club_a, membership_tier="Gold")
    gold_segment(club_a)
    assert error_codes(run(api_for(club_a, "profiles:read"), SEGMENTS)[1]) == ["permission_denied"]
