from django.contrib import admin
from django.db.models import QuerySet
from django.forms import BaseInlineFormSet, ModelForm
from django.http import HttpRequest

from jdreview.models import Membership, Product, Project
from jdreview.projects import (
    PROJECT_SETTINGS,
    membership_remove,
    membership_set,
    project_create,
    project_settings_update,
)

# Projects and memberships are saved through jdreview.projects, as everywhere else, so an
# admin's change is in the project's activity log like any other.


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    autocomplete_fields = ["user"]


def _replace(old: Membership | None, new: Membership, request: HttpRequest) -> None:
    """A membership row saved from a form: a changed row is the old member out and the
    new one in."""
    if old is not None and (old.project_id, old.user_id) == (new.project_id, new.user_id):
        return
    if old is not None:
        membership_remove(project=old.project, user=old.user, by=request.user)
    membership_set(project=new.project, user=new.user, by=request.user)


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "overlap", "gold_share", "queue_order", "created_at"]
    list_filter = ["queue_order"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]

    def save_model(self, request: HttpRequest, obj: Project, form: ModelForm, change: bool) -> None:
        if not change:
            project_create(project=obj, by=request.user)
            return
        values = {f: getattr(obj, f) for f in form.changed_data if f in PROJECT_SETTINGS}
        project_settings_update(project=obj, values=values, by=request.user)

    def save_formset(
        self, request: HttpRequest, form: ModelForm, formset: BaseInlineFormSet, change: bool
    ) -> None:
        if formset.model is not Membership:
            super().save_formset(request, form, formset, change)
            return
        rows = formset.save(commit=False)
        for gone in formset.deleted_objects:
            membership_remove(project=gone.project, user=gone.user, by=request.user)
        for row in rows:
            old = Membership.objects.filter(pk=row.pk).select_related("project", "user").first()
            _replace(old, row, request)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "project", "joined_at"]
    list_filter = ["project"]
    search_fields = ["user__username", "project__name"]

    def save_model(
        self, request: HttpRequest, obj: Membership, form: ModelForm, change: bool
    ) -> None:
        old = (
            Membership.objects.filter(pk=obj.pk).select_related("project", "user").first()
            if change
            else None
        )
        _replace(old, obj, request)
        saved = Membership.objects.get(project_id=obj.project_id, user_id=obj.user_id)
        obj.pk, obj.joined_at = saved.pk, saved.joined_at

    def delete_model(self, request: HttpRequest, obj: Membership) -> None:
        membership_remove(project=obj.project, user=obj.user, by=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        for row in queryset.select_related("project", "user"):
            membership_remove(project=row.project, user=row.user, by=request.user)


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["sku", "title", "category", "brand", "color"]
    list_filter = ["category", "brand"]
    search_fields = ["sku", "title"]
