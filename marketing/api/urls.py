from django.urls import path

from marketing.api.views import (
    SegmentDetailView,
    SegmentListView,
    SegmentMembersChangeView,
    SegmentMembersView,
    SegmentPreviewView,
    SegmentRefreshView,
    SegmentRuleSchemaView,
)

app_name = "marketing-api"

urlpatterns = [
    path("segments", SegmentListView.as_view(), name="segments"),
    path("segments/preview", SegmentPreviewView.as_view(), name="segments_preview"),
    path("segments/schema", SegmentRuleSchemaView.as_view(), name="segments_schema"),
    path("segments/<int:segment_id>", SegmentDetailView.as_view(), name="segment"),
    path("segments/<int:segment_id>/refresh", SegmentRefreshView.as_view(), name="segment_refresh"),
    path("segments/<int:segment_id>/members", SegmentMembersView.as_view(), name="segment_members"),
    path("segments/<int:segment_id>/members/add", SegmentMembersChangeView.as_view(), name="segment_members_add"),
    path(
        "segments/<int:segment_id>/members/remove",
        SegmentMembersChangeView.as_view(remove=True),
        name="segment_members_remove",
    ),
]
