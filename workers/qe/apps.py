"""The query expansion loop's one registration (jdreview.loops)."""

# The module, not its classes: Django takes the one AppConfig subclass found in this
# module's namespace as the app's config, and LoopConfig is one too.
from jdreview import loops

# What the loop names: its review kind and the family of models it trains.
KIND = "query_expansion"
FAMILY = "query_expansion"
# The term-relevance model: RL's query-level reward and the serving guard.
RELEVANCE_FAMILY = "qe_term_relevance"


class QueryExpansionConfig(loops.LoopConfig):
    name = "workers.qe"
    label = "qe"
    verbose_name = "Query expansion"
    registers = ("jobs", "kind")
    loop = loops.Loop(
        name="qe",
        title="Query expansion",
        urls="workers.qe.urls",
        panel="workers.qe.panels:panel",
        demo="workers.qe.demo:seed",
        demo_title="Query expansion: catalog, a tiny pre-trained and fine-tuned model",
        links_template="qe/_links.html",
        item_kinds=(KIND,),
        families=(FAMILY, RELEVANCE_FAMILY),
        active_when_empty=False,
    )

    def ready(self) -> None:
        super().ready()
        from workers.qe.training import servable_check
        from workers.versions import family_register

        # Every path that makes a version live (the page, a finished phase) refuses a
        # pre-trained model: it only continues text.
        family_register(FAMILY, check=servable_check, page=("qe:loop", False))
        family_register(RELEVANCE_FAMILY, page=("qe:loop", False))
