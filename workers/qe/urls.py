from django.urls import URLPattern, path, re_path

from workers.qe import api, views

app_name = "qe"
urlpatterns: list[URLPattern] = [
    re_path(r"^api/expand/?$", api.ExpandView.as_view(), name="api-expand"),
    path("p/<int:project_id>/qe/", views.loop_page, name="loop"),
    path("p/<int:project_id>/qe/expand/", views.expand_page, name="expand"),
    path("p/<int:project_id>/qe/expand/guard/", views.guard_setting, name="guard"),
    path("p/<int:project_id>/qe/start/", views.start_job, name="start"),
]
