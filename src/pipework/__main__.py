"""``python -m pipework``: the same as the ``pipework`` command."""

from .cli import main

main()
