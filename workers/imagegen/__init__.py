"""The ad-image generator loop: generation, RL refinement and pruning jobs, generator
versions, their pages, dashboard panel and demo. Its ML, without Django, is in ``ml/``;
it registers itself in ``apps.py``."""
