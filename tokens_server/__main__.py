"""``python -m tokens_server``: the same as the ``tokens-server`` command."""

from .cli import main

raise SystemExit(main())
