from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from jdreview import activity_api, activity_views, api, metrics, site_pages, views
from jdreview.loops import all_loops
from labeling.media import media_file

urlpatterns = [
    path("", views.home, name="home"),
    path("p/<int:project_id>/", views.project_page, name="project"),
    path("p/<int:project_id>/stats/", views.project_stats, name="project_stats"),
    path("p/<int:project_id>/activity/", activity_views.activity_page, name="activity"),
    path(
        "p/<int:project_id>/activity/export/",
        activity_views.activity_export,
        name="activity_export",
    ),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("favicon.ico", site_pages.favicon, name="favicon"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("labeling.urls")),
    path("", include("workers.urls")),
    path("", include("rewards.urls")),
    # Each loop's pages and API (jdreview.loops), registered by its app.
    *(path("", include(loop.urls)) for loop in all_loops()),
    path("api/", include("labeling.api_urls")),
    path("api/", include("workers.api_urls")),
    path(
        "api/projects/<int:project_id>/activity/",
        activity_api.ActivityListView.as_view(),
        name="api-activity",
    ),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    # Last of the API routes: any other /api/ path is a JSON 404, not the HTML page (a
    # prefix, not ".*", which misses a path with an encoded line break). Ids in API paths
    # are <int:...>, any number of digits, and need no converter of our own: Django (5.0+)
    # answers a primary-key lookup past the column's range with no rows, so an id past
    # bigint is the view's 404, not a DataError (tests/test_api_hardening.py pins it).
    re_path(r"^api/", api.api_not_found, name="api-not-found"),
    path("admin/", admin.site.urls),
    # Prometheus, for a bearer token (METRICS_TOKEN); a 404 without one.
    path("metrics", metrics.metrics_view, name="metrics"),
    # Stored files are private: the app checks who asks before a byte is sent (in
    # production the web server sends it, told by X-Accel-Redirect; see labeling.media).
    path("media/<path:path>", media_file, name="media"),
]

# Styled error pages for people, JSON for the API (jdreview.site_pages); the 500 page is
# Django's own handler with templates/500.html.
handler400 = "jdreview.site_pages.bad_request"
handler403 = "jdreview.site_pages.permission_denied"
handler404 = "jdreview.site_pages.page_not_found"
