"""`python -m policykb.cli.main`: the same as the `policykb` command."""

from policykb.cli.main import main

main()
