"""The query expansion loop's one registration (jdreview.loops)."""

# The module, not its classes: Django takes the one AppConfig subclass found in this
# module's namespace as the app's config, and LoopConfig is one too.
from jdreview import loops

# What the loop names: its review kind and the family of models it trains.
KIND = "query_expansion"
FAMILY = "query_expansion"


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
        families=(FAMILY,),
        active_when_empty=False,
    )
