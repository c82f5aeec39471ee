"""The app side of agent evaluation: trace generation and import, scoring, DPO and
reward-model training as jobs, the comparison page and dashboard panel (the ML is in
workers.pipelines.agents; the trace review page in labeling.traces)."""
