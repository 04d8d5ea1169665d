"""The embedded default database: SecantusDB as a child process, reachable only with the
server's credentials, in an owner-only data directory.

``process`` runs it, ``credentials`` provisions its one user, ``lock`` keeps a second server off
the data directory, ``watchdog`` ties it to the app's life.
"""

from .lock import DataDirLocked, lock_data_dir
from .process import EmbeddedDatabase, EmbeddedDatabaseError
from .watchdog import embedded_database

__all__ = [
    "DataDirLocked",
    "EmbeddedDatabase",
    "EmbeddedDatabaseError",
    "embedded_database",
    "lock_data_dir",
]
