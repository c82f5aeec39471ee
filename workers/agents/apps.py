"""The agent evaluation loop's one registration (jdreview.loops)."""

# The module, not its classes: Django takes the one AppConfig subclass found in this
# module's namespace as the app's config, and LoopConfig is one too.
from jdreview import loops

# What the loop names: its review kind and the family of models it trains.
KIND = "agent_trace"
FAMILY = "agent_policy"


class AgentsConfig(loops.LoopConfig):
    name = "workers.agents"
    label = "agents"
    verbose_name = "Agent evaluation"
    registers = ("jobs", "traces.kind")
    loop = loops.Loop(
        name="agents",
        title="Agent evaluation",
        urls="workers.agents.urls",
        panel="workers.agents.panels:panel",
        demo="workers.agents.demo:seed",
        demo_title="Agent traces: scripted traces to review, a scored base policy",
        links_template="agents/_links.html",
        item_kinds=(KIND,),
        families=(FAMILY,),
        active_when_empty=False,
    )

    def ready(self) -> None:
        super().ready()
        from workers.versions import family_register

        family_register(FAMILY, page=("agents:compare", False))
