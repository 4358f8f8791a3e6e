"""The shapes of the AI builder over REST: a sentence in, a draft rule with its preview out."""

from rest_framework import serializers

from marketing.api.serializers import PreviewSerializer


class BuildFromTextSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=1000, trim_whitespace=True)


class DraftSerializer(PreviewSerializer):
    rule = serializers.JSONField()
    source = serializers.ChoiceField(choices=["llm", "offline"], help_text="The model, or the offline parser.")
    model = serializers.CharField(allow_null=True)
