"""`python -m sqlsentinel`."""

from sqlsentinel.cli import main

main()
