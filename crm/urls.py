from django.urls import path

from crm import views

app_name = "crm"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("dashboard/counts/", views.dashboard_counts, name="dashboard_counts"),
    path("club/switch/", views.switch_club, name="club_switch"),
    path("profiles/", views.profile_list, name="profile_list"),
    path("profiles/export.csv", views.profile_export, name="profile_export"),
    path("profiles/<int:profile_id>/", views.profile_detail, name="profile_detail"),
    path(
        "campaigns/",
        views.pillar_placeholder("Campaigns", "Campaigns, A/B tests and journeys are not built yet."),
        name="campaigns",
    ),
    path(
        "social/",
        views.pillar_placeholder("Social", "Social publishing and the content calendar are not built yet."),
        name="social",
    ),
    path(
        "intelligence/",
        views.pillar_placeholder(
            "Intelligence", "Engagement scoring, churn models and AI assistance are not built yet."
        ),
        name="intelligence",
    ),
]
