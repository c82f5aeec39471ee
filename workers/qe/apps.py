from django.apps import AppConfig

# What the loop names: its review kind and the family of models it trains.
KIND = "query_expansion"
FAMILY = "query_expansion"


class QueryExpansionConfig(AppConfig):
    name = "workers.qe"
    label = "qe"
    verbose_name = "Query expansion"

    def ready(self) -> None:
        import workers.qe.jobs
        import workers.qe.kind  # noqa: F401  (registers the review kind)
        from jdreview.loops import Loop, loop_register
        from workers.versions import family_register

        family_register(FAMILY)
        loop_register(
            Loop(
                name="qe",
                title="Query expansion",
                urls="workers.qe.urls",
                panel="workers.qe.panels:panel",
                demo="workers.qe.demo:seed",
                demo_title="Query expansion: catalog, a tiny pre-trained and fine-tuned model",
                links_template="qe/_links.html",
                item_kinds=("query_expansion",),
                families=("query_expansion",),
                active_when_empty=False,
            )
        )
