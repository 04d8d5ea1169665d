"""The ``tokens-server`` command: flags and environment to settings, failures to one-line errors.

Exit codes: 0 after a clean stop, 1 when the server cannot run (data directory in use, database
failed to start, port taken, a secret key missing, malformed or not the one that sealed the
stored GUIDs), 2 for a bad flag or environment value.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, NoReturn

from pymongo.errors import PyMongoError

from .embedded import DataDirLocked, EmbeddedDatabaseError, lock_data_dir
from .errors import StorageError
from .key_rotation import rotate_secret_key
from .keyring import SecretKeyError
from .logs import configure_logging
from .serve import serve
from .settings import Settings, SettingsError

PROG = "tokens-server"
ROTATE = "rotate-secret-key"


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line, not argparse's usage block."""

    def error(self, message: str) -> NoReturn:
        _fail(f"{message} (see {self.prog} --help)", 2)


def _fail(message: str, code: int) -> NoReturn:
    print(f"{PROG}: error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(code)


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a port number, not {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"must be between 0 and 65535, not {port}")
    return port


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="The Tokens JSON service.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve_cmd = commands.add_parser(
        "serve", help="run the service", description="Run the service until SIGINT or SIGTERM."
    )
    # Defaults are None so that the TOKENS_* variables, then the settings' defaults, apply.
    serve_cmd.add_argument("--host", help="address to listen on [TOKENS_HOST, 127.0.0.1]")
    serve_cmd.add_argument(
        "--port", type=_port, help="port, 0 for any free one [TOKENS_PORT, 8080]"
    )
    _add_database_flags(serve_cmd)
    rotate_cmd = commands.add_parser(
        ROTATE,
        help="reseal every stored GUID under a new secret key",
        description="Reseal every stored GUID under a new secret key; run it again to resume. "
        "See README, 'Rotating the secret key'.",
    )
    _add_database_flags(rotate_cmd)
    rotate_cmd.add_argument(
        "--limit", type=_positive, help="reseal at most this many GUIDs now; run again for the rest"
    )
    return parser


def _add_database_flags(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--mongo-uri", help="a MongoDB to use instead of the embedded database [TOKENS_MONGO_URI]"
    )
    command.add_argument("--db", help="database name [TOKENS_DB, tokens]")
    command.add_argument(
        "--data-dir", type=Path, help="embedded database and key files [TOKENS_DATA_DIR]"
    )


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, not {text!r}")
    return int(text)


def main(argv: Sequence[str] | None = None) -> int:
    started = time.monotonic()
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env(
            host=getattr(args, "host", None),
            port=getattr(args, "port", None),
            mongo_uri=args.mongo_uri,
            db_name=args.db,
            data_dir=args.data_dir,
        )
    except SettingsError as error:
        _fail(str(error), 2)
    configure_logging(_secrets(settings))
    rotating = args.command == ROTATE
    # First of all: a second server on this data directory must fail before it touches the
    # storage, where the failure would be a storage-engine trace. A rotation with key files
    # takes it too: the files it replaces are the server's.
    locked = settings.mongo_uri is None or (rotating and settings.secret_key is None)
    lock = _lock(settings) if locked else None
    try:
        if rotating:
            print("\n".join(asyncio.run(rotate_secret_key(settings, args.limit))), flush=True)
        else:
            asyncio.run(serve(settings, started))
    except (DataDirLocked, EmbeddedDatabaseError, SecretKeyError) as error:
        _fail(str(error), 1)
    except PyMongoError as error:
        _fail(f"the database did not answer: {error}", 1)
    except StorageError as error:  # the repository's form of the driver's errors
        _fail(f"the database did not answer: {error.__cause__ or error}", 1)
    except OSError as error:  # binding the port is the only other I/O at start
        _fail(f"cannot listen on {settings.host}:{settings.port}: {error.strerror or error}", 1)
    finally:
        if lock is not None:
            lock.close()
    return 0


def _secrets(settings: Settings) -> list[str | None]:
    """What the log must never show, though no code means to log it."""
    credentials = re.search(r"//([^@/]*)@", settings.mongo_uri or "")
    password = credentials and credentials[1].partition(":")[2]
    return [settings.admin_key, settings.secret_key, settings.previous_secret_key, password or None]


def _lock(settings: Settings) -> IO[str]:
    try:
        return lock_data_dir(settings.data_dir)
    except DataDirLocked as error:
        _fail(str(error), 1)
    except OSError as error:
        _fail(f"cannot use the data directory {settings.data_dir}: {error.strerror or error}", 2)
