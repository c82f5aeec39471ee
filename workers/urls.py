from django.urls import path

from workers import views

app_name = "workers"
urlpatterns = [
    path("jobs/<int:job_id>/", views.job_page, name="job"),
    path("jobs/<int:job_id>/progress/", views.job_progress, name="progress"),
    path("p/<int:project_id>/jobs/", views.project_jobs, name="project_jobs"),
]
