"""``python -m negotiation``: the command line, as the ``negotiation`` console script runs it."""

from negotiation.cli import main

main()
