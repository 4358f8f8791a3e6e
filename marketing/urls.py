from django.urls import path

from marketing import views

app_name = "marketing"

urlpatterns = [
    path("segments/", views.segment_list, name="segment_list"),
    path("segments/new/", views.segment_new, name="segment_new"),
    path("segments/builder/edit/", views.segment_builder_edit, name="segment_builder_edit"),
    path("segments/builder/preview/", views.segment_builder_preview, name="segment_builder_preview"),
    path("segments/<int:segment_id>/", views.segment_detail, name="segment_detail"),
    path("segments/<int:segment_id>/refresh/", views.segment_refresh_now, name="segment_refresh"),
    path("segments/<int:segment_id>/sync/", views.segment_sync_now, name="segment_sync"),
    path("segments/<int:segment_id>/delete/", views.segment_delete_view, name="segment_delete"),
    path("segments/<int:segment_id>/members/", views.segment_members, name="segment_members"),
    path("segments/<int:segment_id>/members/change/", views.segment_members_change, name="segment_members_change"),
    path("segments/<int:segment_id>/members/search/", views.segment_candidate_search, name="segment_candidates"),
    path("segments/<int:segment_id>/export.csv", views.segment_export, name="segment_export"),
]
