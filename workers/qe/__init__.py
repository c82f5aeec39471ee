"""The app side of query expansion: the three training phases as jobs, serving the live
model (``POST /api/expand``), its pages and dashboard panel (the ML is in
workers.pipelines.qe; the review page in labeling.qe)."""
