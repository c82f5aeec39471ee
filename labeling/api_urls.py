from django.urls import path

from labeling import api

urlpatterns = [
    path("projects/", api.ProjectListView.as_view(), name="api-projects"),
    path("projects/<int:project_id>/", api.ProjectDetailView.as_view(), name="api-project"),
    path("projects/<int:project_id>/items/", api.ItemListView.as_view(), name="api-items"),
    path("projects/<int:project_id>/import/", api.ManifestImportView.as_view(), name="api-import"),
    path(
        "projects/<int:project_id>/import/labelstudio/",
        api.LabelStudioImportView.as_view(),
        name="api-import-labelstudio",
    ),
    path("projects/<int:project_id>/next/", api.NextTaskView.as_view(), name="api-next"),
    path("projects/<int:project_id>/undo/", api.UndoView.as_view(), name="api-undo"),
    path("projects/<int:project_id>/export/", api.ExportView.as_view(), name="api-export"),
    path("tasks/<int:assignment_id>/submit/", api.SubmitView.as_view(), name="api-submit"),
    path("tasks/<int:assignment_id>/skip/", api.SkipView.as_view(), name="api-skip"),
    path("annotations/", api.AnnotationListView.as_view(), name="api-annotations"),
]
