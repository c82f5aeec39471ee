from django.apps import AppConfig

# The family of models the loop trains.
FAMILY = "generator"


class ImageGenConfig(AppConfig):
    name = "workers.imagegen"
    label = "imagegen"
    verbose_name = "Ad-image generator"

    def ready(self) -> None:
        import workers.imagegen.jobs  # noqa: F401  (registers the job kinds)
        from jdreview.loops import Loop, loop_register
        from workers.versions import family_register

        family_register(FAMILY)
        loop_register(
            Loop(
                name="imagegen",
                title="Ad-image generator",
                urls="workers.imagegen.urls",
                panel="workers.imagegen.panels:panel",
                demo="workers.imagegen.demo:seed",
                demo_title="Image generator: a tiny model and a few generated ads",
                links_template="imagegen/_links.html",
                item_kinds=("ad_image",),
                families=("generator", "aspect_reward"),
                active_when_empty=True,
            )
        )
