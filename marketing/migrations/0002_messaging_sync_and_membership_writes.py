"""Segments sync to Messaging lists (sync flag and status, a heartbeat claim, the acknowledged
list entries), and membership rows that cost less to write: no database foreign-key checks and no
club index on members or the change log (see the models for why that is safe)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('crm', '0009_activity_type_window_covers_profile'),
        ('marketing', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='segment',
            name='last_synced_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='segment',
            name='messaging_list_id',
            field=models.CharField(blank=True, max_length=120),
        ),
        migrations.AddField(
            model_name='segment',
            name='sync_error',
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name='segment',
            name='sync_heartbeat_at',
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name='segment',
            name='sync_status',
            field=models.CharField(choices=[('never', 'Not synced yet'), ('running', 'Syncing'), ('synced', 'In sync'), ('failed', 'Failed (will resume)')], default='never', max_length=10),
        ),
        migrations.AddField(
            model_name='segment',
            name='sync_to_messaging',
            field=models.BooleanField(default=False),
        ),
        migrations.AlterField(
            model_name='segmentchange',
            name='club',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='crm.club'),
        ),
        migrations.AlterField(
            model_name='segmentchange',
            name='profile',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='crm.customerprofile'),
        ),
        migrations.AlterField(
            model_name='segmentchange',
            name='segment',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='changes', to='marketing.segment'),
        ),
        migrations.AlterField(
            model_name='segmentmember',
            name='club',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='crm.club'),
        ),
        migrations.AlterField(
            model_name='segmentmember',
            name='profile',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='crm.customerprofile'),
        ),
        migrations.AlterField(
            model_name='segmentmember',
            name='segment',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='members', to='marketing.segment'),
        ),
        migrations.CreateModel(
            name='MessagingListEntry',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('pushed_at', models.DateTimeField()),
                ('club', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='crm.club')),
                ('profile', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='crm.customerprofile')),
                ('segment', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='list_entries', to='marketing.segment')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('segment', 'profile'), name='uniq_messaging_list_entry')],
            },
        ),
    ]
