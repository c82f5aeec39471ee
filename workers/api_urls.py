from django.urls import path

from workers import api

urlpatterns = [
    path("jobs/<int:job_id>/", api.JobDetailView.as_view(), name="api-job"),
    path("projects/<int:project_id>/jobs/", api.ProjectJobsView.as_view(), name="api-jobs"),
]
