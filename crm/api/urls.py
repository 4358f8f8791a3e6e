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

app_name = "crm-api"

urlpatterns = [
    path("events", EventIngestView.as_view(), name="events"),
    path("inbound-events", InboundEventListView.as_view(), name="inbound_events"),
    path("inbound-events/replay", InboundEventReplayView.as_view(), name="inbound_events_replay"),
    path("inbound-events/<int:event_id>", InboundEventDetailView.as_view(), name="inbound_event"),
    path("identifiers", IdentifierLookupView.as_view(), name="identifiers"),
    path("me", MeView.as_view(), name="me"),
    path("profiles", ProfileListView.as_view(), name="profiles"),
    path("profiles/<int:profile_id>", ProfileDetailView.as_view(), name="profile"),
    path("profiles/<int:profile_id>/timeline", ProfileTimelineView.as_view(), name="profile_timeline"),
    path("profiles/<int:profile_id>/identifiers", ProfileIdentifiersView.as_view(), name="profile_identifiers"),
    path("profiles/<int:profile_id>/notes", ProfileNotesView.as_view(), name="profile_notes"),
    path("profiles/<int:profile_id>/notes/<int:note_id>", NoteDetailView.as_view(), name="note"),
    path("tags", TagsView.as_view(), name="tags"),
    path("tags/add", TagBulkView.as_view(), name="tags_add"),
    path("tags/remove", TagBulkView.as_view(remove=True), name="tags_remove"),
    path("merges", ProfileMergeView.as_view(), name="merges"),
    path("merges/<int:merge_id>/undo", MergeUndoView.as_view(), name="merge_undo"),
    path("merge-suggestions", SuggestionListView.as_view(), name="suggestions"),
    path(
        "merge-suggestions/<int:suggestion_id>/accept", SuggestionDecisionView.as_view(), name="suggestion_accept"
    ),
    path(
        "merge-suggestions/<int:suggestion_id>/reject",
        SuggestionDecisionView.as_view(accept=False),
        name="suggestion_reject",
    ),
]
