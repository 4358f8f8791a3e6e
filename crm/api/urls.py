from django.urls import path

from crm.api.collaboration import (
    MergeUndoView,
    NoteDetailView,
    ProfileMergeView,
    ProfileNotesView,
    SuggestionDecisionView,
    SuggestionListView,
    TagBulkView,
    TagsView,
)
from crm.api.events import (
    EventIngestView,
    InboundEventDetailView,
    InboundEventListView,
    InboundEventReplayView,
)
from crm.api.identifiers import IdentifierLookupView, ProfileIdentifiersView
from crm.api.profiles import MeView, ProfileDetailView, ProfileListView, ProfileTimelineView

urlpatterns = [
    path("events", EventIngestView.as_view(), name="api_events"),
    path("inbound-events", InboundEventListView.as_view(), name="api_inbound_events"),
    path("inbound-events/replay", InboundEventReplayView.as_view(), name="api_inbound_events_replay"),
    path("inbound-events/<int:event_id>", InboundEventDetailView.as_view(), name="api_inbound_event"),
    path("identifiers", IdentifierLookupView.as_view(), name="api_identifiers"),
    path("me", MeView.as_view(), name="api_me"),
    path("profiles", ProfileListView.as_view(), name="api_profiles"),
    path("profiles/<int:profile_id>", ProfileDetailView.as_view(), name="api_profile"),
    path("profiles/<int:profile_id>/timeline", ProfileTimelineView.as_view(), name="api_profile_timeline"),
    path("profiles/<int:profile_id>/identifiers", ProfileIdentifiersView.as_view(), name="api_profile_identifiers"),
    path("profiles/<int:profile_id>/notes", ProfileNotesView.as_view(), name="api_profile_notes"),
    path("profiles/<int:profile_id>/notes/<int:note_id>", NoteDetailView.as_view(), name="api_note"),
    path("tags", TagsView.as_view(), name="api_tags"),
    path("tags/add", TagBulkView.as_view(), name="api_tags_add"),
    path("tags/remove", TagBulkView.as_view(remove=True), name="api_tags_remove"),
    path("merges", ProfileMergeView.as_view(), name="api_merges"),
    path("merges/<int:merge_id>/undo", MergeUndoView.as_view(), name="api_merge_undo"),
    path("merge-suggestions", SuggestionListView.as_view(), name="api_suggestions"),
    path(
        "merge-suggestions/<int:suggestion_id>/accept", SuggestionDecisionView.as_view(), name="api_suggestion_accept"
    ),
    path(
        "merge-suggestions/<int:suggestion_id>/reject",
        SuggestionDecisionView.as_view(accept=False),
        name="api_suggestion_reject",
    ),
]
