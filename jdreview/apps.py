from django.apps import AppConfig


class JdreviewConfig(AppConfig):
    name = "jdreview"
    verbose_name = "Accounts, projects and catalog"
