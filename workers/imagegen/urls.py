from django.urls import path

from workers.imagegen import views

app_name = "imagegen"
urlpatterns = [
    path("p/<int:project_id>/generators/", views.generators_page, name="generators"),
    path("p/<int:project_id>/generators/compare/", views.compare_page, name="compare"),
    path("p/<int:project_id>/generators/<int:version_id>/", views.version_page, name="version"),
    path(
        "p/<int:project_id>/generators/<int:version_id>/samples/<int:index>.png",
        views.sample_image,
        name="sample",
    ),
    path("p/<int:project_id>/products/", views.products_page, name="products"),
    path("p/<int:project_id>/products/<int:product_id>/", views.product_page, name="product"),
]
