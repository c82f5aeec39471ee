from django.urls import path

from rewards import views

app_name = "rewards"
urlpatterns = [
    path("p/<int:project_id>/models/", views.models_page, name="models"),
    path("p/<int:project_id>/models/action/", views.model_action, name="model_action"),
    path("p/<int:project_id>/models/gate/", views.gate_settings, name="gate_settings"),
    path("p/<int:project_id>/audit/", views.audit_page, name="audit"),
    path("p/<int:project_id>/audit/<int:audit_id>/", views.audit_submit, name="audit_submit"),
    path("p/<int:project_id>/audit/undo/", views.audit_undo, name="audit_undo"),
]
