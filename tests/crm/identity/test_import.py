"""`import_profiles`: MCA v1 exports through identity resolution, dry runs, re-runs and bad rows."""

import csv
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from crm.backfill.importer import profiles_import
from crm.events.processing import events_process
from crm.events.store import events_store
from crm.kernel.actor import Actor
from crm.models import AuditLog, CustomerProfile, MergeSuggestion, ProfileIdentifier
from tests.factories.events import envelope

ZA_HEADER = [
    "MemberID",
    "MemberNo",
    "FirstName",
    "Surname",
    "Email",
    "CellNo",
    "DOB",
    "PostalCode",
    "Status",
    "Category",
]


def za_file(tmp_path: Path, rows: list[list[str]], header=ZA_HEADER, name="export.csv") -> Path:
    path = tmp_path / name
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(header)
        writer.writerows(rows)
    return path


ROWS = [
    ["1001", "00017", "Thabo", "Nkosi", "thabo@example.com", "082 555 0101", "1980/03/14", "2196", "Active", "Full"],
    # The same man in a second record of the old system: nickname-free typo, same birthday and cell.
    ["2001", "", "Thabo", "Nkozi", "", "0825550101", "1980/03/14", "2196", "", ""],
    # His wife shares the family email: another person.
    ["1002", "00018", "Lerato", "Nkosi", "thabo@example.com", "", "1982/07/01", "2196", "Active", "Full"],
    ["1003", "", "Pieter", "Botha", "pieter@example.org", "", "1975/12/30", "0181", "current", "Senior"],
]


def import_file(club, path, **options):
    return profiles_import(club=club, actor=Actor.system(), fmt="za", source=path, **options)


def test_an_export_becomes_profiles_with_a_reconciliation(club_a, tmp_path):
    report = import_file(club_a, za_file(tmp_path, ROWS))
    assert (report.read, report.created, report.matched, report.rejected) == (4, 3, 1, 0)
    thabo = CustomerProfile.objects.for_club(club_a).get(identifiers__value="za:1001")
    assert thabo.identifiers.filter(kind="legacy_id").count() == 2  # both old records, one person
    assert (thabo.first_name, thabo.primary_phone, thabo.membership_status) == ("Thabo", "+27825550101", "active")
    lerato = CustomerProfile.objects.for_club(club_a).get(identifiers__value="za:1002")
    assert lerato.pk != thabo.pk and lerato.identifiers.filter(kind="email", value="thabo@example.com").exists()
    assert CustomerProfile.objects.for_club(club_a).get(first_name="Pieter").membership_status == "active"
    assert thabo.activities.filter(type="profile.imported").count() == 2
    assert AuditLog.objects.for_club(club_a).filter(action="data.import").count() == 1


def test_importing_the_same_file_again_changes_nothing(club_a, tmp_path):
    path = za_file(tmp_path, ROWS)
    import_file(club_a, path)
    before = list(CustomerProfile.objects.for_club(club_a).order_by("pk").values())
    identifiers = ProfileIdentifier.objects.for_club(club_a).count()
    again = import_file(club_a, path)
    assert (again.created, again.merged, again.matched) == (0, 0, 4)
    after = list(CustomerProfile.objects.for_club(club_a).order_by("pk").values())
    assert [{**row, "updated_at": None} for row in after] == [{**row, "updated_at": None} for row in before]
    assert ProfileIdentifier.objects.for_club(club_a).count() == identifiers
    assert CustomerProfile.objects.for_club(club_a).get(first_name="Pieter").activities.count() == 1


def test_a_dry_run_reports_the_same_figures_and_writes_nothing(club_a, tmp_path):
    report = import_file(club_a, za_file(tmp_path, ROWS), dry_run=True)
    assert (report.created, report.matched) == (3, 1)
    assert not CustomerProfile.objects.for_club(club_a).exists()
    assert not ProfileIdentifier.objects.for_club(club_a).exists()
    assert not AuditLog.objects.for_club(club_a).filter(action="data.import").exists()


def test_live_data_outranks_the_backfill_and_the_member_is_found_by_email(club_a, tmp_path):
    stored = events_store(
        club=club_a,
        enqueue=False,
        raw_events=[
            envelope(
                "member.created",
                {"member_id": "M1", "first_name": "Pieter", "last_name": "Botha", "email": "pieter@example.org"},
                club=club_a,
            ),
            envelope("membership.lapsed", {"member_id": "M1", "lapsed_on": "2026-01-31"}, club=club_a),
        ],
        transport="test",
    )
    events_process(event_ids=stored.accepted_ids)
    report = import_file(club_a, za_file(tmp_path, ROWS[3:]))
    assert report.matched == 1 and report.created == 0
    pieter = CustomerProfile.objects.for_club(club_a).get()
    assert pieter.membership_status == "lapsed"  # SCL's word beats the legacy export's "current"
    assert pieter.membership_tier == "Senior"  # a gap the backfill may fill
    assert str(pieter.date_of_birth) == "1975-12-30"


def test_bad_rows_are_rejected_with_reasons_and_the_rest_imported(club_a, tmp_path):
    rows = [
        ROWS[0],
        ["", "", "No", "Id", "", "", "", "", "", ""],
        ["1005", "", "Ann", "Lee", "", "", "31/02/1990", "", "", ""],
        ["1001", "", "Thabo", "Again", "", "", "", "", "", ""],
        ["1006", "", "", "", "", "", "", "", "", ""],
    ]
    path = za_file(tmp_path, rows)
    errors = tmp_path / "rejected.csv"
    call_command("import_profiles", str(path), "--club", club_a.slug, "--format", "za", "--errors", str(errors))
    assert CustomerProfile.objects.for_club(club_a).count() == 1
    with open(errors, newline="") as handle:
        reasons = {row["line"]: row["reason"] for row in csv.DictReader(handle)}
    assert reasons == {
        "3": "no legacy id",
        "4": "DOB '31/02/1990' is not a date (%Y/%m/%d or %Y-%m-%d)",
        "5": "legacy id 1001 already on line 2",
        "6": "neither a name nor an email",
    }


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("Membership ID,Forename,Surname\n1,Ann,Lee\n", "The header lacks"),  # a UK file given as ZA
        (b"MemberID;FirstName;Surname\n1;Ren\xe9;Lee\n", "is not utf-8-sig text"),
    ],
)
def test_a_file_in_the_wrong_shape_is_refused_whole(club_a, tmp_path, content, message):
    path = tmp_path / "wrong.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(CommandError, match=message):
        call_command("import_profiles", str(path), "--club", club_a.slug, "--format", "za")
    assert not CustomerProfile.objects.for_club(club_a).exists()


def test_doubtful_pairs_become_suggestions_not_merges(club_a, tmp_path):
    rows = [
        ["3001", "", "Jon", "Smyth", "", "", "1970/01/02", "", "", ""],
        ["3002", "", "John", "Smith", "", "", "1970/01/02", "", "", ""],
    ]
    report = import_file(club_a, za_file(tmp_path, rows))
    assert report.created == 1 and report.suggested == 1
    suggestion = MergeSuggestion.objects.for_club(club_a).get()
    assert suggestion.status == "pending" and "date_of_birth" in suggestion.evidence


def test_the_import_stays_in_its_club(club_a, club_b, tmp_path):
    import_file(club_a, za_file(tmp_path, ROWS))
    assert not CustomerProfile.objects.for_club(club_b).exists()
    report = import_file(club_b, za_file(tmp_path, ROWS))
    assert report.created == 3  # club B's people are its own, even with the same legacy ids


def test_a_uk_export_uses_its_own_columns_dates_and_phone_region(club_b, tmp_path):
    path = tmp_path / "uk.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["Membership ID", "Forename", "Surname", "Email Address", "Mobile", "Date of Birth", "Postcode"]
        )
        writer.writerow(["U1", "Oliver", "Hughes", "oliver@example.co.uk", "07911 123456", "14/03/1980", "sw1a 1aa"])
    report = profiles_import(club=club_b, actor=Actor.system(), fmt="uk", source=path)
    assert (report.created, report.rejected) == (1, 0)
    oliver = CustomerProfile.objects.for_club(club_b).get()
    assert (oliver.primary_phone, str(oliver.date_of_birth), oliver.postcode) == (
        "+447911123456",
        "1980-03-14",
        "SW1A 1AA",
    )
    assert oliver.identifiers.filter(kind="legacy_id", value="uk:U1").exists()
