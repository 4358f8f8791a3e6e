from django.urls import path

from intelligence.api.views import SegmentBuildFromTextView

urlpatterns = [
    path("segments/build-from-text", SegmentBuildFromTextView.as_view(), name="api_segments_build_from_text"),
]
