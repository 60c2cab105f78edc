"""``python -m cytoreview``: the same as the ``cytoreview`` command."""

from .cli import main

main()
