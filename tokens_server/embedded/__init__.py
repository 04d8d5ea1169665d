"""The embedded default database: SecantusDB as a child process, reachable only with the
server's credentials, in an owner-only data directory.

``process`` runs it, ``credentials`` provisions its one user, ``lock`` keeps a second server off
the data directory, ``watchdog`` brings it back whenever it dies.
"""

from tokens_server.embedded.lock import DataDirLocked, lock_data_dir
from tokens_server.embedded.process import EmbeddedDatabase, EmbeddedDatabaseError
from tokens_server.embedded.watchdog import restart_when_dead

__all__ = [
    "DataDirLocked",
    "EmbeddedDatabase",
    "EmbeddedDatabaseError",
    "lock_data_dir",
    "restart_when_dead",
]
