"""The ``tastebud`` command line (``tastebud.cli``), above the packages it wires together."""
