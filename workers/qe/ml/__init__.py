"""Query expansion: queries with known relevance, offline search, the expansion LM and its
three training phases (domain pre-training, fine-tuning, RL against the search simulation).

Modules: ``queries`` and ``vocab`` (the world), ``search`` (engine and metrics), ``model``,
``train`` (phases 1-2), ``ppo`` and ``grpo`` (phase 3), ``synonyms`` (dictionary baseline).
Rewards live in ``workers.qe.ml.reward``. Nothing here imports Django.
"""
