"""The marketers' segment pages: the builder round-trips every kind of condition through its form,
edits and previews over htmx, saves with errors beside the right condition, exports audited CSV,
keeps hand-picked lists, and never shows or touches another club's segments."""

from html.parser import HTMLParser

import pytest
from django.urls import reverse

from crm.models import AuditLog, Role
from marketing.models import Segment, SegmentMember
from marketing.services.segments import segment_refresh
from tests.factories import ProfileFactory, SegmentFactory

GOLD = {"field": "tier", "op": "eq", "value": "Gold"}


class FormFields(HTMLParser):
    """The values a browser would submit for the form with this id (inputs, selects, checkboxes)."""

    def __init__(self, form_id: str | None):
        super().__init__()
        self.form_id, self.inside, self.select = form_id, form_id is None, None
        self.fields: list[tuple[str, str]] = []
        self._first_option = None
        self.textarea: str | None = None
        self._text = ""

    def handle_data(self, data):
        if self.textarea is not None:
            self._text += data

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and self.form_id is not None:
            self.inside = attrs.get("id") == self.form_id
        if not self.inside:
            return
        if tag == "input" and attrs.get("name"):
            if attrs.get("type") in ("checkbox", "radio") and "checked" not in attrs:
                return
            self.fields.append((attrs["name"], attrs.get("value", "on" if attrs.get("type") == "checkbox" else "")))
        elif tag == "textarea" and attrs.get("name"):
            self.textarea, self._text = attrs["name"], ""
        elif tag == "select":
            self.select, self._first_option, self._chosen = attrs.get("name"), None, False
        elif tag == "option" and self.select:
            if self._first_option is None:
                self._first_option = attrs.get("value", "")
            if "selected" in attrs:
                self.fields.append((self.select, attrs.get("value", "")))
                self._chosen = True

    def handle_endtag(self, tag):
        if tag == "form" and self.form_id is not None:
            self.inside = False
        elif tag == "textarea" and self.textarea is not None:
            self.fields.append((self.textarea, self._text))
            self.textarea = None
        elif tag == "select" and self.select:
            if not self._chosen and self._first_option is not None:
                self.fields.append((self.select, self._first_option))
            self.select = None


def form_data(html: str, form_id: str | None = "segment-form") -> dict[str, list[str]]:
    parser = FormFields(form_id)
    parser.feed(html)
    data: dict[str, list[str]] = {}
    for name, value in parser.fields:
        data.setdefault(name, []).append(value)
    return data


ROUND_TRIP_RULE = {
    "all": [
        {"field": "tier", "op": "in", "value": ["Gold", "Silver"]},
        {"field": "membership_status", "op": "in", "value": ["active", "suspended"]},
        {"field": "handicap", "op": "between", "value": [5, 18.5]},
        {"field": "email_opt_in", "op": "eq", "value": True},
        {"field": "date_of_birth", "op": "is_set"},
        {"field": "joined_on", "op": "within_last_days", "value": 365},
        {"field": "renewal_on", "op": "lt", "value": "2027-01-31"},
        {"activity": {"type": "round.completed", "count": {"op": "gte", "value": 3}, "within_last_days": 30}},
        {"activity": {"type": "booking.created", "count": {"op": "eq", "value": 0}, "properties": {"course": "North"}}},
        {"any": [{"tag": "Winter league"}, {"birthday": {"within_next_days": 7}}]},
        {"not": {"any": [{"field": "email", "op": "contains", "value": "@example.org"}]}},
        # Shapes the API and the AI builder can store that a careless form would change on re-save:
        {"field": "home_course", "op": "in", "value": ["Lakes, north nine", "Championship"]},
        {"field": "postcode", "op": "not_in", "value": ["7700", "8001"]},  # digits that stay text
        {
            "activity": {
                "type": "round.completed",
                "count": {"op": "gte", "value": 1},
                "properties": {"course": "18", "holes": 9, "competition": True},
            }
        },
        {"activity": {"type": "legacy.visit", "count": {"op": "gte", "value": 1}}},  # not in today's catalog
    ]
}


@pytest.fixture
def marketer(client_for, club_a):
    return client_for(club_a, Role.MARKETER)


def test_every_kind_of_condition_survives_the_builder_form_unchanged(marketer, club_a):
    segment = SegmentFactory(club=club_a, name="Everything", rule=ROUND_TRIP_RULE)
    page = marketer.get(reverse("marketing:segment_detail", args=[segment.pk]))
    assert page.status_code == 200
    data = form_data(page.content.decode())
    saved = marketer.post(reverse("marketing:segment_detail", args=[segment.pk]), data)
    assert saved.status_code == 302, saved.content.decode()[:2000]
    segment.refresh_from_db()
    assert segment.rule == ROUND_TRIP_RULE


def test_a_new_segment_is_saved_from_the_form_and_bad_values_come_back_beside_their_condition(marketer, club_a):
    ProfileFactory(club=club_a, membership_tier="Gold")
    page = marketer.get(reverse("marketing:segment_new"))
    data = form_data(page.content.decode())
    data.update({"name": ["Gold"], "r.0-field": ["tier"], "r.0-op": ["eq"], "r.0-value": ["Gold"]})
    saved = marketer.post(reverse("marketing:segment_new"), data)
    assert saved.status_code == 302
    segment = Segment.objects.for_club(club_a).get(name="Gold")
    assert segment.rule == {"all": [GOLD]}
    assert AuditLog.objects.for_club(club_a).filter(action="segment.create").count() == 1

    data.update({"name": ["Handicaps"], "r.0-field": ["handicap"], "r.0-op": ["gt"], "r.0-value": ["lots"]})
    refused = marketer.post(reverse("marketing:segment_new"), data)
    assert refused.status_code == 400
    body = refused.content.decode()
    assert "compares with a number" in body and "has-errors" in body and 'value="lots"' in body
    assert Segment.objects.for_club(club_a).count() == 1


def test_the_editor_adds_and_removes_conditions_and_previews_over_htmx(marketer, club_a):
    ProfileFactory(club=club_a, membership_tier="Gold")
    ProfileFactory(club=club_a, membership_tier="Silver")
    data = form_data(marketer.get(reverse("marketing:segment_new")).content.decode())
    data.update({"r.0-field": ["tier"], "r.0-op": ["eq"], "r.0-value": ["Gold"], "action": ["add:r:activity"]})
    edited = marketer.post(reverse("marketing:segment_builder_edit"), data, HTTP_HX_REQUEST="true")
    html = edited.content.decode()
    assert edited.status_code == 200 and 'name="r.1-activity_type"' in html
    assert 'hx-swap-oob="true"' in html  # the preview follows the edit
    removed = marketer.post(
        reverse("marketing:segment_builder_edit"), {**data, **form_data(html, None), "action": ["remove:r.1"]}
    )
    assert 'name="r.1-activity_type"' not in removed.content.decode()
    preview = marketer.post(reverse("marketing:segment_builder_preview"), data, HTTP_HX_REQUEST="true")
    assert 'data-testid="preview-count">1<' in preview.content.decode()


def test_refresh_export_and_delete_from_the_page(marketer, club_a):
    people = [ProfileFactory(club=club_a, membership_tier="Gold") for _ in range(2)]
    segment = SegmentFactory(club=club_a, name="Gold", rule=GOLD)
    refreshed = marketer.post(reverse("marketing:segment_refresh", args=[segment.pk]), follow=True)
    assert "2 entered" in refreshed.content.decode()
    export = marketer.get(reverse("marketing:segment_export", args=[segment.pk]))
    rows = b"".join(export.streaming_content).decode().splitlines()
    assert len(rows) == 3 and rows[0].startswith("id,")
    assert {int(row.split(",")[0]) for row in rows[1:]} == {person.pk for person in people}
    audit = AuditLog.objects.for_club(club_a).get(action="data.export")
    assert audit.details["source"]["segment_id"] == segment.pk and audit.details["count"] == 2
    marketer.post(reverse("marketing:segment_delete", args=[segment.pk]))
    assert not Segment.objects.for_club(club_a).exists()


def test_members_page_on_and_a_chart_of_changes(marketer, club_a):
    for _ in range(30):
        ProfileFactory(club=club_a, membership_tier="Gold")
    segment = SegmentFactory(club=club_a, name="Gold", rule=GOLD)
    segment_refresh(club=club_a, segment=segment)
    page = marketer.get(reverse("marketing:segment_detail", args=[segment.pk])).content.decode()
    assert page.count('class="entered"') == 30 and "30 entered" in page  # one bar a day; today's holds all 30
    assert "Older members" in page
    cursor = page.split("?cursor=")[1].split('"')[0]
    members_url = reverse("marketing:segment_members", args=[segment.pk])
    more = marketer.get(f"{members_url}?cursor={cursor}", HTTP_HX_REQUEST="true")
    assert more.content.decode().count("<tr>") == 5  # 25 on the first page, the other 5 here


def test_hand_picked_lists_add_by_search_and_remove(marketer, club_a, club_b):
    ann = ProfileFactory(club=club_a, first_name="Annabel", last_name="Lee")
    ProfileFactory(club=club_b, first_name="Annabel", last_name="Other")
    segment = SegmentFactory(club=club_a, name="Committee", static=True)
    found = marketer.get(reverse("marketing:segment_candidates", args=[segment.pk]), {"q": "Annabel"}).content.decode()
    assert "Lee" in found and "Other" not in found
    change_url = reverse("marketing:segment_members_change", args=[segment.pk])
    marketer.post(change_url, {"change": "add", "profile_id": ann.pk})
    assert list(SegmentMember.objects.for_club(club_a).values_list("profile_id", flat=True)) == [ann.pk]
    marketer.post(change_url, {"change": "remove", "profile_id": ann.pk})
    assert not SegmentMember.objects.for_club(club_a).exists()


def test_viewers_see_segments_but_cannot_change_or_export_them(client_for, club_a):
    segment = SegmentFactory(club=club_a, name="Gold", rule=GOLD)
    viewer = client_for(club_a, Role.VIEWER)
    page = viewer.get(reverse("marketing:segment_detail", args=[segment.pk]))
    assert page.status_code == 200 and b"Save segment" not in page.content
    assert viewer.get(reverse("marketing:segment_new")).status_code == 403
    assert viewer.post(reverse("marketing:segment_refresh", args=[segment.pk])).status_code == 403
    assert viewer.get(reverse("marketing:segment_export", args=[segment.pk])).status_code == 403


def test_sync_now_pushes_to_messaging_and_the_page_shows_the_status(marketer, club_a, messaging_simulator):
    for _ in range(3):
        ProfileFactory(club=club_a, membership_tier="Gold")
    segment = SegmentFactory(club=club_a, name="Gold", rule=GOLD, sync_to_messaging=True)
    segment_refresh(club=club_a, segment=segment)
    page = marketer.post(reverse("marketing:segment_sync", args=[segment.pk]), follow=True).content.decode()
    assert "Sync to Messaging started" in page and "In sync" in page  # tests run tasks in-process
    list_id = Segment.objects.for_club(club_a).get(pk=segment.pk).messaging_list_id
    assert len(messaging_simulator.state()["lists"][list_id]["members"]) == 3
    listing = marketer.get(reverse("marketing:segment_list")).content.decode()
    assert 'class="chip sync-synced"' in listing

    messaging_simulator.fail(mode="500", times=20)
    ProfileFactory(club=club_a, membership_tier="Gold")
    segment_refresh(club=club_a, segment=segment)
    failed = marketer.post(reverse("marketing:segment_sync", args=[segment.pk]), follow=True).content.decode()
    assert "Failed (will resume)" in failed and "Messaging answered 500" in failed


def test_older_members_of_a_hand_picked_list_keep_their_remove_buttons(marketer, club_a):
    segment = SegmentFactory(club=club_a, name="Committee", static=True)
    people = ProfileFactory.create_batch(30, club=club_a)
    marketer.post(
        reverse("marketing:segment_members_change", args=[segment.pk]),
        {"change": "add", "profile_id": [p.pk for p in people]},
    )
    page = marketer.get(reverse("marketing:segment_detail", args=[segment.pk])).content.decode()
    cursor = page.split("?cursor=")[1].split('"')[0]
    older = marketer.get(reverse("marketing:segment_members", args=[segment.pk]) + f"?cursor={cursor}").content.decode()
    assert older.count("<tr>") == 5 and older.count(">Remove</button>") == 5


def test_bad_hand_picked_ids_are_a_message_not_a_crash(marketer, club_a):
    segment = SegmentFactory(club=club_a, name="Committee", static=True)
    for bad in ({"profile_id": "abc"}, {}):
        page = marketer.post(
            reverse("marketing:segment_members_change", args=[segment.pk]), {"change": "add", **bad}, follow=True
        )
        assert page.status_code == 200 and 'class="error"' in page.content.decode()
    assert not SegmentMember.objects.for_club(club_a).exists()


def test_viewers_are_refused_saving_and_the_editor_never_offers_the_segment_itself(client_for, marketer, club_a):
    segment = SegmentFactory(club=club_a, name="Gold", rule=GOLD)
    other = SegmentFactory(club=club_a, name="Silver", rule={"field": "tier", "op": "eq", "value": "Silver"})
    data = form_data(marketer.get(reverse("marketing:segment_detail", args=[segment.pk])).content.decode())
    edited = marketer.post(reverse("marketing:segment_builder_edit"), {**data, "action": ["add:r:segment"]})
    menu = edited.content.decode().split('name="r.1-segment"')[1].split("</select>")[0]
    assert f'value="{other.pk}"' in menu and f'value="{segment.pk}"' not in menu
    viewer = client_for(club_a, Role.VIEWER)
    assert viewer.post(reverse("marketing:segment_detail", args=[segment.pk]), data).status_code == 403
    assert Segment.objects.for_club(club_a).get(pk=segment.pk).rule == GOLD
