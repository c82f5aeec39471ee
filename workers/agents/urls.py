from django.urls import path, re_path

from workers.agents import api, views

app_name = "agents"
urlpatterns = [
    path("p/<int:project_id>/agents/", views.overview, name="overview"),
    path("p/<int:project_id>/agents/import/", views.trace_import, name="import"),
    path("p/<int:project_id>/agents/jobs/", views.job_start, name="job_start"),
    path("p/<int:project_id>/agents/compare/", views.compare, name="compare"),
    path("p/<int:project_id>/agents/traces/<int:item_id>/", views.trace_detail, name="trace"),
    # With or without the trailing slash: a POST cannot follow APPEND_SLASH's redirect.
    re_path(
        r"^api/projects/(?P<project_id>\d+)/traces/import/?$",
        api.TraceImportView.as_view(),
        name="api-traces-import",
    ),
]
