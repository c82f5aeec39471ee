from django.urls import path

from labeling import views

app_name = "labeling"
urlpatterns = [
    path("p/<int:project_id>/label/", views.label_page, name="label"),
    path("p/<int:project_id>/label/<int:assignment_id>/submit/", views.label_submit, name="submit"),
    path("p/<int:project_id>/label/<int:assignment_id>/skip/", views.label_skip, name="skip"),
    path("p/<int:project_id>/label/undo/", views.label_undo, name="undo"),
]
