from django.apps import AppConfig


class WorkersConfig(AppConfig):
    name = "workers"
    verbose_name = "Jobs and workers"

    def ready(self) -> None:
        import workers.jobs  # noqa: F401  (registers the job kinds)
