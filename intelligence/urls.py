from django.urls import path

from intelligence import views

app_name = "intelligence"

urlpatterns = [
    path("segments/from-text/", views.segment_from_text, name="segment_from_text"),
]
