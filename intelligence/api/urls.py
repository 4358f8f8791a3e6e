from django.urls import path

from intelligence.api.views import SegmentBuildFromTextView

app_name = "intelligence-api"

urlpatterns = [
    path("segments/build-from-text", SegmentBuildFromTextView.as_view(), name="segments_build_from_text"),
]
