"""What people and programs talk to: the command line, the REPL and their rendering."""
