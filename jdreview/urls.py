from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from jdreview import views

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
    path("", include("workers.imagegen.urls")),
    path("", include("workers.qe.urls")),
    path("", include("workers.agents.urls")),
    path("api/", include("labeling.api_urls")),
    path("api/", include("workers.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("admin/", admin.site.urls),
    # Media from the local storage root. Behind a real deployment, the web server or the
    # object store serves these instead.
    re_path(r"^media/(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT}),
]
