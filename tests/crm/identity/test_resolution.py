"""Identity resolution as events meet it: each matching rule and the cases where it must refuse."""

from crm.events.processing import events_process
from crm.events.store import events_store
from crm.kernel.actor import Actor
from crm.models import CustomerProfile, InboundEvent, MergeRecord, MergeSuggestion, ProfileIdentifier
from tests.factories.events import ago, envelope


def ingest(club, *events):
    outcome = events_store(club=club, raw_events=list(events), transport="test", enqueue=False)
    events_process(event_ids=outcome.accepted_ids)
    return outcome


def live(club):
    return CustomerProfile.objects.for_club(club).filter(merged_into__isnull=True)


def warnings(club) -> list[str]:
    return [warning for row in InboundEvent.objects.for_club(club).order_by("pk") for warning in row.warnings]


def test_a_shared_email_joins_the_same_person_across_systems(club_a):
    ingest(
        club_a,
        envelope(
            "member.created",
            {"member_id": "M1", "first_name": "Ann", "last_name": "Lee", "email": "lees@example.com"},
            club=club_a,
        ),
    )
    ingest(
        club_a,
        envelope(
            "player.created",
            {"player_id": "P1", "first_name": "Annie", "last_name": "Lee", "email": "LEES@example.com"},
            club=club_a,
        ),
    )
    assert live(club_a).count() == 1


def test_a_shared_email_with_different_first_names_stays_two_people(club_a):
    ingest(
        club_a,
        envelope(
            "member.created",
            {"member_id": "M1", "first_name": "Ann", "last_name": "Lee", "email": "lees@example.com"},
            club=club_a,
        ),
    )
    ingest(
        club_a,
        envelope(
            "player.created",
            {"player_id": "P1", "first_name": "Bob", "last_name": "Lee", "email": "lees@example.com"},
            club=club_a,
        ),
    )
    assert live(club_a).count() == 2
    assert ProfileIdentifier.objects.for_club(club_a).filter(value="lees@example.com").count() == 2


def test_a_shared_phone_with_different_birthdays_stays_two_people(club_a):
    ingest(
        club_a,
        envelope(
            "member.created",
            {
                "member_id": "M1",
                "first_name": "John",
                "last_name": "Smith",
                "phone": "082 555 0101",
                "date_of_birth": "1961-04-02",
            },
            club=club_a,
        ),
    )
    ingest(
        club_a,
        envelope(
            "member.created",
            {
                "member_id": "M9",
                "first_name": "John",
                "last_name": "Smith",
                "phone": "0825550101",
                "date_of_birth": "1990-08-30",
            },
            club=club_a,
        ),
    )
    ingest(
        club_a,
        envelope(
            "player.created",
            {
                "player_id": "P1",
                "first_name": "John",
                "last_name": "Smith",
                "phone": "+27825550101",
                "date_of_birth": "1990-08-30",
            },
            club=club_a,
        ),
    )
    assert live(club_a).count() == 2
    junior = live(club_a).get(date_of_birth="1990-08-30")
    assert set(junior.identifiers.values_list("kind", flat=True)) == {"scl_member_id", "teetime_player_id", "phone"}


def test_placeholder_values_never_link_anyone(club_a):
    for player in ("P1", "P2"):
        ingest(
            club_a,
            envelope(
                "player.created",
                {
                    "player_id": player,
                    "first_name": "Ann",
                    "last_name": "Lee",
                    "email": "test@test.com",
                    "phone": "0000000000",
                },
                club=club_a,
            ),
        )
    assert live(club_a).count() == 2
    assert not ProfileIdentifier.objects.for_club(club_a).filter(kind="email").exists()
    assert any("placeholder" in warning for warning in warnings(club_a))


def test_a_busy_inbox_stops_matching(club_a):
    for index, name in enumerate(["Ann", "Bob", "Cara", "Dan", "Eve"]):
        ingest(
            club_a,
            envelope(
                "player.created",
                {"player_id": f"P{index}", "first_name": name, "last_name": "Office", "email": "golf@office.test"},
                club=club_a,
            ),
        )
    ingest(club_a, envelope("contact.created", {"contact_id": "C1", "email": "golf@office.test"}, club=club_a))
    assert live(club_a).count() == 6
    assert any("shared by many profiles" in warning for warning in warnings(club_a))


def test_one_profile_holds_at_most_five_emails(club_a):
    for index in range(7):
        ingest(
            club_a,
            envelope(
                "member.updated",
                {"member_id": "M1", "email": f"ann{index}@example.com"},
                club=club_a,
                at=ago(days=10 - index),
            ),
        )
    profile = live(club_a).get()
    assert profile.identifiers.filter(kind="email").count() == 5
    assert any("already has 5 email values" in warning for warning in warnings(club_a))


def test_an_event_that_links_two_profiles_merges_them(club_a):
    ingest(
        club_a,
        envelope(
            "message.sent", {"contact_id": "C1", "message_id": "m1", "channel": "email"}, club=club_a, at=ago(days=3)
        ),
    )
    ingest(
        club_a,
        envelope(
            "member.created",
            {"member_id": "M1", "first_name": "Ann", "last_name": "Lee", "email": "ann@example.com"},
            club=club_a,
            at=ago(days=2),
        ),
    )
    assert live(club_a).count() == 2
    ingest(
        club_a,
        envelope(
            "contact.created",
            {"contact_id": "C1", "email": "ann@example.com", "first_name": "Ann"},
            club=club_a,
            at=ago(days=1),
        ),
    )
    survivor = live(club_a).get()
    assert survivor.identifiers.filter(kind="scl_member_id").exists()  # the SCL-backed profile survives
    assert sorted(survivor.activities.values_list("type", flat=True)) == [
        "contact.created",
        "member.created",
        "message.sent",
    ]
    assert MergeRecord.objects.for_club(club_a).get().reason == "event"


def test_ids_of_two_different_members_are_never_merged(club_a):
    ingest(club_a, envelope("member.created", {"member_id": "M1", "first_name": "Ann"}, club=club_a))
    ingest(club_a, envelope("member.created", {"member_id": "M2", "first_name": "Bob"}, club=club_a))
    ingest(club_a, envelope("player.created", {"player_id": "P1", "member_id": "M2"}, club=club_a))
    ingest(club_a, envelope("contact.created", {"contact_id": "C1", "member_id": "M1", "player_id": "P1"}, club=club_a))
    assert live(club_a).count() == 2
    assert not MergeRecord.objects.for_club(club_a).exists()
    assert any("hold different system ids" in warning for warning in warnings(club_a))


def test_a_probable_match_joins_without_any_shared_key(club_a):
    ingest(
        club_a,
        envelope(
            "member.created",
            {
                "member_id": "M1",
                "first_name": "Katherine",
                "last_name": "du Plessis",
                "date_of_birth": "1984-02-11",
                "address": {"postcode": "7700"},
                "email": "kdp@work.example",
            },
            club=club_a,
        ),
    )
    ingest(
        club_a,
        envelope(
            "player.created",
            {
                "player_id": "P1",
                "first_name": "Kate",
                "last_name": "Du Plessis",
                "date_of_birth": "1984-02-11",
                "address": {"postcode": "7700"},
                "email": "kate@home.example",
            },
            club=club_a,
        ),
    )
    profile = live(club_a).get()
    assert set(profile.identifiers.values_list("kind", flat=True)) >= {"scl_member_id", "teetime_player_id"}


def test_a_doubtful_match_becomes_a_suggestion_with_evidence(club_a):
    ingest(
        club_a,
        envelope(
            "member.created",
            {"member_id": "M1", "first_name": "John", "last_name": "Smith", "date_of_birth": "1970-01-02"},
            club=club_a,
        ),
    )
    ingest(
        club_a,
        envelope(
            "player.created",
            {"player_id": "P1", "first_name": "Jon", "last_name": "Smyth", "date_of_birth": "1970-01-02"},
            club=club_a,
        ),
    )
    assert live(club_a).count() == 2
    suggestion = MergeSuggestion.objects.for_club(club_a).get()
    assert suggestion.status == "pending"
    assert suggestion.evidence["date_of_birth"]["result"] == "same"
    assert suggestion.evidence["name"]["result"] == "similar"


def test_the_club_can_tighten_its_thresholds(club_a):
    club_a.settings = {"identity": {"auto_merge_threshold": 0.99, "review_threshold": 0.95}}
    club_a.save()
    ingest(
        club_a,
        envelope(
            "member.created",
            {"member_id": "M1", "first_name": "Katherine", "last_name": "du Plessis", "date_of_birth": "1984-02-11"},
            club=club_a,
        ),
    )
    ingest(
        club_a,
        envelope(
            "player.created",
            {"player_id": "P1", "first_name": "Kate", "last_name": "Du Plessis", "date_of_birth": "1984-02-11"},
            club=club_a,
        ),
    )
    assert live(club_a).count() == 2
    assert not MergeSuggestion.objects.for_club(club_a).exists()


def test_matching_never_crosses_clubs(club_a, club_b):
    ingest(
        club_a,
        envelope(
            "member.created",
            {
                "member_id": "M1",
                "first_name": "Ann",
                "last_name": "Lee",
                "email": "ann@example.com",
                "date_of_birth": "1980-01-01",
            },
            club=club_a,
        ),
    )
    ingest(
        club_b,
        envelope(
            "player.created",
            {
                "player_id": "P1",
                "first_name": "Ann",
                "last_name": "Lee",
                "email": "ann@example.com",
                "date_of_birth": "1980-01-01",
            },
            club=club_b,
        ),
    )
    assert live(club_a).count() == 1 and live(club_b).count() == 1
    assert not MergeSuggestion.objects.for_club(club_b).exists()


def test_an_unmerged_pair_is_not_merged_again_by_the_next_event(club_a):
    from crm.services.merges import merge_undo

    ingest(club_a, envelope("message.sent", {"contact_id": "C1", "message_id": "m1", "channel": "email"}, club=club_a))
    ingest(
        club_a,
        envelope("member.created", {"member_id": "M1", "first_name": "Ann", "email": "ann@example.com"}, club=club_a),
    )
    link = envelope("contact.created", {"contact_id": "C1", "email": "ann@example.com"}, club=club_a)
    ingest(club_a, link)
    merge_undo(club=club_a, actor=Actor.system(), record_id=MergeRecord.objects.for_club(club_a).get().pk)
    ingest(club_a, envelope("contact.updated", {"contact_id": "C1", "email": "ann@example.com"}, club=club_a))
    assert live(club_a).count() == 2
    assert MergeSuggestion.objects.for_club(club_a).get().status == "rejected"
    assert any("marked as two people by staff" in warning for warning in warnings(club_a))
