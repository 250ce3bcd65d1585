"""One module per Claude Code hook event: parsed input -> output dict (or None for no output).

``runner.run`` is what the executables in ``hooks/`` call: it reads stdin, calls the event function,
prints at most one JSON object, and turns every failure into one log line and exit 0.
"""
