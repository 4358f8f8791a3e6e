import csv
import io

from django.urls import reverse

from crm.models import AuditAction, AuditLog, Role
from tests.factories import ProfileFactory


def read_csv(response) -> list[dict]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def test_admin_csv_export_of_a_selection_writes_one_audit_row(client_for, club_a):
    chosen = [ProfileFactory(club=club_a) for _ in range(3)]
    ProfileFactory(club=club_a, first_name="NotChosen")
    client = client_for(club_a, Role.MARKETER)
    response = client.post(
        reverse("admin:crm_customerprofile_changelist"),
        {"action": "export_selected_csv", "_selected_action": [p.pk for p in chosen]},
        REMOTE_ADDR="10.1.2.3",
    )
    rows = read_csv(response)
    assert sorted(int(row["id"]) for row in rows) == sorted(p.pk for p in chosen)
    assert "NotChosen" not in {row["first_name"] for row in rows}
    audit = AuditLog.objects.for_club(club_a).get(action=AuditAction.EXPORT)
    assert audit.actor == client.user
    assert audit.details["count"] == 3
    assert sorted(audit.details["profile_ids"]) == sorted(p.pk for p in chosen)
    assert audit.ip_address == "10.1.2.3"


def test_page_export_follows_the_search_and_is_audited(client_for, club_a):
    ProfileFactory(club=club_a, first_name="Zara", last_name="Zulu")
    ProfileFactory(club=club_a, first_name="Yves", last_name="Young")
    client = client_for(club_a, Role.ADMIN)
    rows = read_csv(client.get(reverse("crm:profile_export"), {"q": "Zulu"}))
    assert [row["last_name"] for row in rows] == ["Zulu"]
    assert AuditLog.objects.for_club(club_a).filter(action=AuditAction.EXPORT).count() == 1


def test_merged_and_erased_profiles_are_not_exported(client_for, club_a):
    survivor = ProfileFactory(club=club_a)
    ProfileFactory(club=club_a, merged_into=survivor)
    ProfileFactory(club=club_a, is_erased=True)
    client = client_for(club_a, Role.ADMIN)
    rows = read_csv(client.get(reverse("crm:profile_export")))
    assert [int(row["id"]) for row in rows] == [survivor.pk]
