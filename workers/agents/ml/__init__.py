"""Agent evaluation world: shopping tasks, tools, traces, scripted and LM agents.

Plain Python + PyTorch; never imports Django. See FORMAT.md for the trace exchange format.
The scorers in ``workers.agents.ml.judge`` build on this world; nothing here imports them (a trainer
that ranks runs takes a scorer as an argument).
"""
