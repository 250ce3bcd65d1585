"""The ``mem0-hooks`` command: argparse in ``main.py``, one module per command, each returning an exit code."""
