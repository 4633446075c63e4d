"""``python -m searchapp`` runs the ``search`` command."""

from searchapp.cli import main

main()
