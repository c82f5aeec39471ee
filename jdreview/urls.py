from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from jdreview import api, views
from jdreview.loops import all_loops
from labeling.media import media_file

urlpatterns = [
    path("", views.home, name="home"),
    path("p/<int:project_id>/", views.project_page, name="project"),
    path("p/<int:project_id>/stats/", views.project_stats, name="project_stats"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("labeling.urls")),
    path("", include("workers.urls")),
    path("", include("rewards.urls")),
    # Each loop's pages and API (jdreview.loops), registered by its app.
    *(path("", include(loop.urls)) for loop in all_loops()),
    path("api/", include("labeling.api_urls")),
    path("api/", include("workers.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    # Last of the API routes: any other /api/ path is a JSON 404, not the HTML page (a
    # prefix, not ".*", which misses a path with an encoded line break). Ids in API paths
    # are <int:...>, any number of digits, and need no converter of our own: Django (5.0+)
    # answers a primary-key lookup past the column's range with no rows, so an id past
    # bigint is the view's 404, not a DataError (tests/test_api_hardening.py pins it).
    re_path(r"^api/", api.api_not_found, name="api-not-found"),
    path("admin/", admin.site.urls),
    # Stored files are private: the app checks who asks before a byte is sent (in
    # production the web server sends it, told by X-Accel-Redirect; see labeling.media).
    path("media/<path:path>", media_file, name="media"),
]
