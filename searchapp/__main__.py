"""``python -m searchapp`` runs the ``search`` command."""

from searchapp.interfaces.cli import main

main()
