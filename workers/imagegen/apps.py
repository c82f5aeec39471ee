"""The ad-image generator loop's one registration (jdreview.loops)."""

# The module, not its classes: Django takes the one AppConfig subclass found in this
# module's namespace as the app's config, and LoopConfig is one too.
from jdreview import loops

# The family of models the loop trains.
FAMILY = "generator"


class ImageGenConfig(loops.LoopConfig):
    name = "workers.imagegen"
    label = "imagegen"
    verbose_name = "Ad-image generator"
    registers = ("jobs",)
    loop = loops.Loop(
        name="imagegen",
        title="Ad-image generator",
        urls="workers.imagegen.urls",
        panel="workers.imagegen.panels:panel",
        demo="workers.imagegen.demo:seed",
        demo_title="Image generator: a tiny model and a few generated ads",
        links_template="imagegen/_links.html",
        item_kinds=("ad_image",),
        families=(FAMILY, "aspect_reward"),
        active_when_empty=True,
    )

    def ready(self) -> None:
        super().ready()
        from workers.versions import family_register

        family_register(FAMILY, page=("imagegen:version", True))
