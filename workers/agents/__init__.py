"""The agent-evaluation loop: trace generation, import and review (``traces/``), scoring,
DPO and explicit-reward training as jobs, the comparison page, dashboard panel and demo.
Its ML, without Django, is in ``ml/`` (step judge and scorers in ``ml/judge/``); it
registers itself in ``apps.py``."""
