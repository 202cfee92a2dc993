"""`python -m notifier …`: the same command line as the `notifier` console script."""
from notifier.cli import main

main(prog_name="notifier")
