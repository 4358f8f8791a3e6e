"""The segment window index carries the profile, so counting a window's activities per profile
(segment refresh: "at least 3 rounds in the last 90 days") reads the index alone instead of
fetching every activity row: on 1M profiles / 20M activities the best query for a 5-condition
segment went from 1.05 s to 0.56 s. It replaces the old index rather than adding one, so ingestion
still maintains the same number of indexes, each entry 8 bytes wider."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0008_segment_audit_actions"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="activity",
            name="activity_club_type_time",
        ),
        migrations.AddIndex(
            model_name="activity",
            index=models.Index(fields=["club", "type", "occurred_at", "profile"], name="activity_club_type_time_who"),
        ),
    ]
