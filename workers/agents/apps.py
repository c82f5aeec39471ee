from django.apps import AppConfig

# What the loop names: its review kind and the family of models it trains.
KIND = "agent_trace"
FAMILY = "agent_policy"


class AgentsConfig(AppConfig):
    name = "workers.agents"
    label = "agents"
    verbose_name = "Agent evaluation"

    def ready(self) -> None:
        import workers.agents.jobs
        import workers.agents.traces.kind  # noqa: F401  (registers the review kind)
        from jdreview.loops import Loop, loop_register
        from workers.versions import family_register

        family_register(FAMILY)
        loop_register(
            Loop(
                name="agents",
                title="Agent evaluation",
                urls="workers.agents.urls",
                panel="workers.agents.panels:panel",
                demo="workers.agents.demo:seed",
                demo_title="Agent traces: scripted traces to review, a scored base policy",
                links_template="agents/_links.html",
                item_kinds=("agent_trace",),
                families=("agent_policy",),
                active_when_empty=False,
            )
        )
