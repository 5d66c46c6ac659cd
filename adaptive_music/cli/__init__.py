"""The ``adaptive-music`` command line: one module per subcommand."""
