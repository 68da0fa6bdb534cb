"""The ``installer`` subcommands, one module per kind of work (registered in :mod:`installer.cli`)."""
