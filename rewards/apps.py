from django.apps import AppConfig


class RewardsConfig(AppConfig):
    name = "rewards"
    verbose_name = "Reward models"

    def ready(self) -> None:
        import rewards.jobs  # noqa: F401  (registers the job kinds)
        from rewards.registry import FAMILY, check_artifact
        from workers.versions import artifact_check_register

        # Every promotion path of the one registry (pages, jobs, admin) must load an aspect
        # model fully before it goes live.
        artifact_check_register(family=FAMILY, check=check_artifact)
