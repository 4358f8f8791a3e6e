from django.urls import path

from crm.api.events import EventIngestView
from crm.api.profiles import MeView, ProfileDetailView, ProfileListView, ProfileTimelineView

urlpatterns = [
    path("events", EventIngestView.as_view(), name="api_events"),
    path("me", MeView.as_view(), name="api_me"),
    path("profiles", ProfileListView.as_view(), name="api_profiles"),
    path("profiles/<int:profile_id>", ProfileDetailView.as_view(), name="api_profile"),
    path("profiles/<int:profile_id>/timeline", ProfileTimelineView.as_view(), name="api_profile_timeline"),
]
