"""The segment window index carries the profile, so counting a window's activities per profile
(segment refresh: "at least 3 rounds in the last 90 days") reads the index alone instead of
fetching every activity row: on 1M profiles / 20M activities the best query for a 5-condition
segment went from 1.05 s to 0.56 s. It replaces the old index rather than adding one, so ingestion
still maintains the same number of indexes, each entry 8 bytes wider.

Built before the old one is dropped, both CONCURRENTLY on PostgreSQL, so ingestion never waits
and segment queries always have an index."""

from django.db import migrations, models

from crm.online_migrations import AddIndexOnline, RemoveIndexOnline


class Migration(migrations.Migration):
    atomic = False
    dependencies = [
        ("crm", "0008_segment_audit_actions"),
    ]

    operations = [
        AddIndexOnline(
            model_name="activity",
            index=models.Index(fields=["club", "type", "occurred_at", "profile"], name="activity_club_type_time_who"),
        ),
        RemoveIndexOnline(
            model_name="activity",
            name="activity_club_type_time",
        ),
    ]
