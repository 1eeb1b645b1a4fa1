"""Allow ``python -m zsar`` as an alias of the ``zsar`` console script."""

from zsar.cli import main

main()
