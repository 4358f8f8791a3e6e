from django.urls import path

from crm.api.events import EventIngestView

urlpatterns = [
    path("events", EventIngestView.as_view(), name="api_events"),
]
