from django.contrib import admin

from jdreview.models import Membership, Product, Project


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    autocomplete_fields = ["user"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "overlap", "gold_share", "queue_order", "created_at"]
    list_filter = ["queue_order"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "project", "joined_at"]
    list_filter = ["project"]
    search_fields = ["user__username", "project__name"]


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["sku", "title", "category", "brand", "color"]
    list_filter = ["category", "brand"]
    search_fields = ["sku", "title"]
