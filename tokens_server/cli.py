"""The ``tokens-server`` command: flags and environment to settings, failures to one-line errors.

Exit codes: 0 after a clean stop, 1 when the server cannot run (data directory in use, database
failed to start, port taken, a secret key missing, malformed or not the one that sealed the
stored GUIDs), 2 for a bad flag or environment value.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable, Sequence
from typing import IO, Any, NoReturn

from tokens_server.setting_values import positive
from tokens_server.settings import OPTIONS, Settings, SettingsError, password_in

PROG = "tokens-server"
ROTATE = "rotate-secret-key"
# The settings each command takes as flags (all of them also as TOKENS_* variables).
DATABASE_FLAGS = ("mongo_uri", "db_name", "data_dir")
SERVE_FLAGS = ("host", "port", *DATABASE_FLAGS)
# The flag that may carry a password, which every local user can read on a command line.
URI_FLAG = "--mongo-uri"


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line, not argparse's usage block."""

    def error(self, message: str) -> NoReturn:
        _fail(f"{message} (see {self.prog} --help)", 2)


def _fail(message: str, code: int) -> NoReturn:
    print(f"{PROG}: error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(code)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="The Tokens JSON service.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve_cmd = commands.add_parser(
        "serve", help="run the service", description="Run the service until SIGINT or SIGTERM."
    )
    _add_flags(serve_cmd, SERVE_FLAGS)
    rotate_cmd = commands.add_parser(
        ROTATE,
        help="reseal every stored GUID under a new secret key",
        description="Reseal every stored GUID under a new secret key; run it again to resume. "
        "See README, 'Rotating the secret key'.",
    )
    _add_flags(rotate_cmd, DATABASE_FLAGS)
    rotate_cmd.add_argument(
        "--limit",
        type=_flag_type(positive),
        help="reseal at most this many GUIDs now; run again for the rest",
    )
    return parser


def _add_flags(command: argparse.ArgumentParser, names: tuple[str, ...]) -> None:
    # Flags that set one field two ways (a URI, or a file holding it) exclude each other.
    groups: dict[str, argparse._MutuallyExclusiveGroup] = {}
    for option in OPTIONS:
        if option.field in names and option.flag is not None:
            if option.field not in groups:
                groups[option.field] = command.add_mutually_exclusive_group()
            group = groups[option.field]
            # Default None, so that the variable, then the settings' default, applies.
            group.add_argument(
                option.flag,
                dest=option.field,
                metavar=option.flag.removeprefix("--").replace("-", "_").upper(),
                type=_flag_type(option.cast, warn_of_password=option.flag == URI_FLAG),
                help=f"{option.help} [{option.variable}, {option.default_text().strip('`')}]",
            )


def _flag_type(cast: Callable[[str], Any], warn_of_password: bool = False) -> Callable[[str], Any]:
    """``cast`` with its message as argparse's, which names the flag."""

    def read(text: str) -> Any:
        if warn_of_password and password_in(text):
            print(
                f"{PROG}: warning: the password in {URI_FLAG} can be read by every local user; "
                f"give the URI as TOKENS_MONGO_URI or in a file ({URI_FLAG}-file)",
                file=sys.stderr,
                flush=True,
            )
        try:
            return cast(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return read


def main(argv: Sequence[str] | None = None) -> int:
    started = time.monotonic()
    args = _parser().parse_args(argv)
    try:
        flags = {name: getattr(args, name, None) for name in SERVE_FLAGS}
        settings = Settings.from_env(**flags)
    except SettingsError as error:
        _fail(str(error), 2)
    return _run(args, settings, started)


def _run(args: argparse.Namespace, settings: Settings, started: float) -> int:
    # The server is imported only now, once the flags and values are known to be good: it takes
    # most of a second, which --help or a mistyped value should not wait for.
    from pymongo.errors import PyMongoError

    from tokens_server.domain.errors import StorageError
    from tokens_server.embedded import DataDirLocked, EmbeddedDatabaseError
    from tokens_server.key_rotation import rotate_secret_key
    from tokens_server.logs import configure_logging
    from tokens_server.secrets.keyring import SecretKeyError
    from tokens_server.serve import serve
    from tokens_server.storage.topology import NotAReplicaSet

    # What the log must never show, though no code means to log it.
    configure_logging(settings.secrets)
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
    except (DataDirLocked, EmbeddedDatabaseError, NotAReplicaSet, SecretKeyError) as error:
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


def _lock(settings: Settings) -> IO[str]:
    from tokens_server.embedded import DataDirLocked, lock_data_dir  # see _run

    try:
        return lock_data_dir(settings.data_dir)
    except DataDirLocked as error:
        _fail(str(error), 1)
    except OSError as error:
        _fail(f"cannot use the data directory {settings.data_dir}: {error.strerror or error}", 2)
