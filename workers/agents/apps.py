from django.apps import AppConfig


class AgentsConfig(AppConfig):
    name = "workers.agents"
    label = "agents"
    verbose_name = "Agent evaluation"

    def ready(self) -> None:
        import workers.agents.jobs
        import workers.agents.traces.kind  # noqa: F401  (registers the review kind)
        from jdreview.loops import Loop, loop_register

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
