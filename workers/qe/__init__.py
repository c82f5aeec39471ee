"""The query-expansion loop: the three training phases as jobs, serving the live model
(``POST /api/expand``), its pages, dashboard panel, demo and review kind (``kind.py``).
Its ML, without Django, is in ``ml/`` (rewards in ``ml/reward/``); it registers itself in
``apps.py``."""
