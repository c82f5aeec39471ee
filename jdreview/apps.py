from django.apps import AppConfig


class JdreviewConfig(AppConfig):
    name = "jdreview"
    verbose_name = "Accounts, projects and catalog"

    def ready(self) -> None:
        # Registers the seed_demo job kind (workers.registry), like the apps' jobs modules.
        from jdreview import demo_jobs  # noqa: F401
