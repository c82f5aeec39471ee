"""Agent evaluation world: shopping tasks, tools, traces, scripted and LM agents.

Plain Python + PyTorch; never imports Django. See FORMAT.md for the trace exchange format.
"""
