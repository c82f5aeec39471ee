from django.apps import AppConfig


class RewardsConfig(AppConfig):
    name = "rewards"
    verbose_name = "Reward models"

    def ready(self) -> None:
        import rewards.jobs  # noqa: F401  (registers the job kinds)
        from rewards.registry import FAMILY, check_artifact
        from workers.versions import family_register

        # Every promotion path of the one registry (pages, jobs, admin) must load an aspect
        # model fully before it goes live.
        family_register(FAMILY, check=check_artifact)
