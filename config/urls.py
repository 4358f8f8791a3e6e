from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from crm.edges.graph import GraphQLApiView, graphql_sdl
from crm.views import healthz

# Staff sign in through allauth (rate limits, MFA), never through the admin's own login form.
admin.site.login = login_required(admin.site.login)
admin.site.site_header = "Fairway CRM — back office"
admin.site.site_title = "Fairway CRM"
admin.site.index_title = "Club back office"

# Every app's urlconf has its own namespace, named after the app: `crm:profile_detail`,
# `marketing:segment_detail`, `intelligence:segment_from_text`; its API under /api/v1/ is
# `<app>-api` (`marketing-api:segment`), one per app rather than one shared `api`, because Django
# wants a namespace included once and each app owns its endpoints' names.
urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("api/v1/", include("crm.api.urls")),
    path("api/v1/", include("marketing.api.urls")),
    path("api/v1/", include("intelligence.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api_schema"),
    path("api/schema/swagger/", SpectacularSwaggerView.as_view(url_name="api_schema"), name="api_swagger"),
    path("api/schema/redoc/", SpectacularRedocView.as_view(url_name="api_schema"), name="api_redoc"),
    path("api/schema/graphql", graphql_sdl, name="graphql_sdl"),
    path("graphql/", GraphQLApiView.as_view(), name="graphql"),
    path("healthz", healthz, name="healthz"),
    path("", include("crm.urls")),
    path("", include("marketing.urls")),
    path("", include("intelligence.urls")),
]
