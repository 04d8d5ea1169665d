"""``python -m tokens_server``: the same as the ``tokens-server`` command."""

from tokens_server.cli import main

raise SystemExit(main())
