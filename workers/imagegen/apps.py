from django.apps import AppConfig


class ImageGenConfig(AppConfig):
    name = "workers.imagegen"
    label = "imagegen"
    verbose_name = "Ad-image generator"

    def ready(self) -> None:
        import workers.imagegen.jobs  # noqa: F401  (registers the job kinds)
        from jdreview.loops import Loop, loop_register

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
