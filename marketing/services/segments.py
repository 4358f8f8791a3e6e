"""Refreshing a segment's materialised membership: only the difference, in SQL (SPEC 8).

The rule's matches are written once into a temporary table; then four statements record who
entered and who left (SegmentChange), delete the leavers and insert the newcomers. Nothing is
read into Python per profile. The segment row is locked for the refresh, so two workers
refreshing the same segment run one after the other instead of both inserting the newcomers.
"""

import time
import uuid
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from crm.errors import CrmError, CrmErrorCode
from marketing.models import Segment, SegmentChange, SegmentChangeKind, SegmentKind, SegmentMember
from marketing.services.rules.compiler import rule_queryset


@dataclass(frozen=True)
class RefreshResult:
    entered: int
    exited: int
    member_count: int
    milliseconds: int


def segment_refresh(*, club, segment: Segment, now=None) -> RefreshResult:
    if segment.club_id != club.pk:
        raise CrmError(CrmErrorCode.NOT_PERMITTED, "That segment belongs to another club.")
    if segment.kind != SegmentKind.DYNAMIC:
        raise CrmError(CrmErrorCode.NOT_PERMITTED, "Only rule-based segments are refreshed; add or remove by hand.")
    now = now or timezone.now()
    started = time.perf_counter()
    matches = rule_queryset(club=club, rule=segment.rule, now=now).values(member=F("pk"))
    matches_sql, matches_params = matches.query.sql_with_params()
    members, changes = SegmentMember._meta.db_table, SegmentChange._meta.db_table
    scratch = f"segment_matches_{uuid.uuid4().hex[:12]}"
    with transaction.atomic():
        Segment.objects.for_club(club).select_for_update().only("pk").get(pk=segment.pk)
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE TEMPORARY TABLE {scratch} AS {matches_sql}", matches_params)
            try:
                cursor.execute(f"CREATE INDEX {scratch}_pk ON {scratch} (member)")
                if connection.vendor == "postgresql":
                    cursor.execute(f"ANALYZE {scratch}")
                current = f"SELECT 1 FROM {members} s WHERE s.segment_id = %s AND s.profile_id = m.member"
                cursor.execute(
                    f"INSERT INTO {changes} (club_id, segment_id, profile_id, change, at) "
                    f"SELECT %s, %s, m.member, %s, %s FROM {scratch} m WHERE NOT EXISTS ({current})",
                    [club.pk, segment.pk, SegmentChangeKind.ENTERED, now, segment.pk],
                )
                entered = cursor.rowcount
                leaving = f"NOT EXISTS (SELECT 1 FROM {scratch} m WHERE m.member = s.profile_id)"
                cursor.execute(
                    f"INSERT INTO {changes} (club_id, segment_id, profile_id, change, at) "
                    f"SELECT %s, %s, s.profile_id, %s, %s FROM {members} s WHERE s.segment_id = %s AND {leaving}",
                    [club.pk, segment.pk, SegmentChangeKind.EXITED, now, segment.pk],
                )
                exited = cursor.rowcount
                cursor.execute(
                    f"DELETE FROM {members} WHERE segment_id = %s AND profile_id NOT IN (SELECT member FROM {scratch})",
                    [segment.pk],
                )
                cursor.execute(
                    f"INSERT INTO {members} (club_id, segment_id, profile_id, entered_at) "
                    f"SELECT %s, %s, m.member, %s FROM {scratch} m WHERE NOT EXISTS ({current})",
                    [club.pk, segment.pk, now, segment.pk],
                )
                cursor.execute(f"SELECT count(*) FROM {scratch}")
                member_count = cursor.fetchone()[0]
            finally:
                cursor.execute(f"DROP TABLE {scratch}")
        milliseconds = round((time.perf_counter() - started) * 1000)
        Segment.objects.for_club(club).filter(pk=segment.pk).update(
            member_count=member_count, last_refreshed_at=now, last_refresh_ms=milliseconds
        )
    segment.member_count, segment.last_refreshed_at, segment.last_refresh_ms = member_count, now, milliseconds
    return RefreshResult(entered, exited, member_count, milliseconds)
