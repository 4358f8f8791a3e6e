"""The shapes of segments over REST: what goes in and what comes out, nothing else (the views
call the services)."""

from rest_framework import serializers

from crm.models import CustomerProfile
from marketing.models import Segment, SegmentKind
from marketing.services.segment_editing import MAX_HAND_PICKED

SEGMENT_FIELDS = (
    "id", "name", "description", "kind", "rule", "member_count", "last_refreshed_at", "last_refresh_ms",
    "sync_to_messaging", "messaging_list_id", "sync_status", "last_synced_at", "sync_error",
    "created_at", "updated_at",
)


class SegmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Segment
        fields = SEGMENT_FIELDS
        read_only_fields = SEGMENT_FIELDS  # output only: writes go through SegmentWriteSerializer


class SegmentWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=80)
    description = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    kind = serializers.ChoiceField(choices=SegmentKind.choices, required=False)
    rule = serializers.JSONField(required=False, allow_null=True)
    sync_to_messaging = serializers.BooleanField(required=False)


class RuleSerializer(serializers.Serializer):
    rule = serializers.JSONField()


class ProfileSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = CustomerProfile
        fields = (
            "id", "first_name", "last_name", "primary_email", "membership_status", "membership_tier", "updated_at",
        )


class PreviewSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    explanation = serializers.CharField()
    sample = ProfileSummarySerializer(many=True, help_text="Up to 10 matches; empty without profiles:read.")


class MemberSerializer(serializers.Serializer):
    entered_at = serializers.DateTimeField()
    profile = ProfileSummarySerializer()


class MembersPageSerializer(serializers.Serializer):
    next_cursor = serializers.CharField(allow_null=True)
    results = MemberSerializer(many=True)


class ProfileIdsSerializer(serializers.Serializer):
    profile_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), max_length=MAX_HAND_PICKED, allow_empty=False
    )
