from django.apps import AppConfig


class QueryExpansionConfig(AppConfig):
    name = "workers.qe"
    label = "qe"
    verbose_name = "Query expansion"

    def ready(self) -> None:
        import workers.qe.jobs
        import workers.qe.kind  # noqa: F401  (registers the review kind)
        from jdreview.loops import Loop, loop_register

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
