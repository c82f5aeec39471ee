"""The app side of the ad-image generator: generation, RL refinement and pruning jobs,
generator versions, their pages and dashboard panel (the ML is in workers.pipelines.imagegen)."""
