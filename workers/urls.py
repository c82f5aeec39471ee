from django.urls import path

from workers import version_views, views

app_name = "workers"
urlpatterns = [
    path("jobs/<int:job_id>/", views.job_page, name="job"),
    path("jobs/<int:job_id>/progress/", views.job_progress, name="progress"),
    path("p/<int:project_id>/jobs/", views.project_jobs, name="project_jobs"),
    # Every family's versions table posts here (templates/workers/_versions.html).
    path(
        "p/<int:project_id>/models/<int:version_id>/promote/",
        version_views.version_promote,
        name="version_promote",
    ),
    path(
        "p/<int:project_id>/models/<int:version_id>/rollback/",
        version_views.version_rollback,
        name="version_rollback",
    ),
]
