"""Shared fixtures: one real database process per test session (per worker under xdist), a
fresh database per test; and how the tests are ordered, split in two parts and handed out to
parallel workers (scripts/test)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from pymongo import MongoClient
from pymongo.database import Database
from xdist.scheduler import LoadScheduling
from xdist.workermanage import WorkerController

from tests.support import ADMIN, UNDECLARED, AiohttpClient, checked_app, fresh_settings
from tokens_server.embedded import EmbeddedDatabase
from tokens_server.settings import Settings

TESTS = Path(__file__).parent
BROWSER_TESTS = TESTS / "browser"
PARTS = ("all", "server", "browser")
# Modules whose tests go to one worker together: the last fuzz test counts the requests the
# others sent (module state), the secret-key tests share a sealed data directory (a module
# fixture that runs a server), and the tests of a browser module share the Jupyter server it
# needs (JupyterLab and Notebook 7 take seconds to start).
WHOLE_MODULES = (TESTS / "test_fuzz.py", TESTS / "test_secret_key.py", BROWSER_TESTS)
# The browser fixtures that start JupyterLab or Notebook 7 (tests/browser/conftest.py).
JUPYTER_FRONT_ENDS = {"jupyterlab", "notebook7"}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--part",
        choices=PARTS,
        default="all",
        help="run only the browser tests (tests/browser) or only the others. scripts/test runs "
        "the two as separate runs: a process that has started Playwright's synchronous API "
        "cannot run an asyncio test any more.",
    )


def _within(path: Path, places: tuple[Path, ...]) -> bool:
    return any(path == place or place in path.parents for place in places)


def _is_browser_test(item: pytest.Item) -> bool:
    return BROWSER_TESTS in item.path.parents


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """A part does not even import the other part's modules (collecting the fuzz tests alone
    takes half a minute); ``pytest_collection_modifyitems`` deselects what was named anyway."""
    part = config.getoption("part")
    if part == "server" and collection_path == BROWSER_TESTS:
        return True
    if part == "browser" and not (
        _within(collection_path, (BROWSER_TESTS,)) or collection_path in BROWSER_TESTS.parents
    ):
        return True
    return None


@pytest.hookimpl(tryfirst=True)  # before -m reads the marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    part = config.getoption("part")
    if part != "all":
        wanted = part == "browser"
        kept = [item for item in items if _is_browser_test(item) == wanted]
        dropped = [item for item in items if _is_browser_test(item) != wanted]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
        items[:] = kept
    for item in items:
        if _is_browser_test(item):  # each opens a page in a Jupyter server: seconds
            item.add_marker(pytest.mark.slow)
    whole = Counter(item.path for item in items if _within(item.path, WHOLE_MODULES))

    def run_order(item: pytest.Item) -> tuple[bool, bool, bool, int]:
        # Browser tests go last: Playwright's sync API keeps an event loop running in this
        # thread from its first use to the session's end, and no asyncio test can run beside
        # it. Within each part the slow tests go first, the whole modules first among them and
        # the largest first, so that parallel workers share them out and end together. Before
        # all of them go the tests that start a Jupyter front end of their own, which can take
        # a minute on a busy machine: last, one took two while the other worker sat idle.
        slow = item.get_closest_marker("slow") is not None
        front_end = bool(JUPYTER_FRONT_ENDS & set(getattr(item, "fixturenames", ())))
        return _is_browser_test(item), not slow, not front_end, -whole[item.path]

    items.sort(key=run_order)


class _OneAtATime(LoadScheduling):
    """Under xdist each worker is handed the next test as it frees up, in the order above; a
    test of WHOLE_MODULES brings the rest of its module along. (xdist's ``--dist load`` hands
    out long runs of tests ahead, which leaves the slow ones to one worker; its grouping modes
    tell tests apart by node id, which the fuzz tests share.)"""

    def __init__(self, config: pytest.Config, log: Any = None) -> None:
        super().__init__(config, log)
        self.maxschedchunk = 1  # two tests to each worker at first

    def check_schedule(self, node: WorkerController, duration: float = 0) -> None:
        if node.shutting_down:
            return
        if not self.pending:
            node.shutdown()  # it runs what it holds, then stops
        elif len(self.node2pending[node]) < 2:  # a worker runs a test once it knows the next
            self._send_tests(node, 1)

    def _send_tests(self, node: WorkerController, num: int) -> None:
        assert self.collection is not None
        picked = self.pending[:num]
        modules = {self._whole_module(self.collection[i]) for i in picked} - {None}
        if modules:
            picked = [
                i
                for i in self.pending
                if i in picked or self._whole_module(self.collection[i]) in modules
            ]
        if not picked:
            return
        taken = set(picked)
        self.pending[:] = [i for i in self.pending if i not in taken]
        self.node2pending[node].extend(picked)
        node.send_runtest_some(picked)

    def _whole_module(self, nodeid: str) -> Path | None:
        module = self.config.rootpath / nodeid.split("::", 1)[0]
        return module if _within(module, WHOLE_MODULES) else None


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> LoadScheduling | None:
    if config.getoption("dist") != "load":  # -n's default; any other --dist is taken as asked
        return None
    return _OneAtATime(config, log)


def pytest_configure(config: pytest.Config) -> None:
    dist = config.getoption("dist", "no")
    if dist in ("loadscope", "loadfile", "loadgroup"):
        # They key tests by node id, and the fuzz tests share one: all but one would not run.
        raise pytest.UsageError(f"--dist {dist} would skip fuzz tests; leave --dist as it is")


@pytest.fixture(autouse=True)
def _every_answer_is_declared() -> Iterator[None]:
    UNDECLARED.clear()
    yield
    assert UNDECLARED == [], "answers not declared in the OpenAPI document"


@pytest.fixture(scope="session")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedDatabase]:
    """A SecantusDB process shared by the whole session, started as the server starts its own:
    requiring authentication, so ``database.uri`` carries the credentials. Its store is a
    temporary directory: provisioning the user restarts the database, which a ``:memory:``
    store would not survive."""
    db = EmbeddedDatabase(tmp_path_factory.mktemp("database"))
    asyncio.run(db.start())
    yield db
    asyncio.run(db.stop())


@pytest.fixture(scope="session")
def mongo(database: EmbeddedDatabase) -> Iterator[MongoClient[dict[str, Any]]]:
    """One client of the session's database for the tests' own reads and writes: a client
    connects and signs in, which costs more than most of what a test does with it."""
    with MongoClient(database.uri, serverSelectionTimeoutMS=5000, tz_aware=True) as client:
        yield client


@pytest.fixture
def settings(
    database: EmbeddedDatabase, mongo: MongoClient[dict[str, Any]], tmp_path: Path
) -> Iterator[Settings]:
    """Settings for a server on its own, fresh database; dropped after the test."""
    settings = fresh_settings(database, tmp_path)
    yield settings
    mongo.drop_database(settings.db_name)


@pytest.fixture
async def client(aiohttp_client: AiohttpClient, settings: Settings) -> TestClient[Any, Any]:
    return await aiohttp_client(checked_app(settings))


@pytest.fixture
def raw_db(mongo: MongoClient[dict[str, Any]], settings: Settings) -> Database[dict[str, Any]]:
    """The test's database, read and written directly (behind the server's back)."""
    return mongo[settings.db_name]


@pytest.fixture
async def make_scope(client: TestClient[Any, Any]) -> Callable[..., Awaitable[str]]:
    async def make(name: str, description: str = "") -> str:
        response = await client.post(
            "/api/v1/scopes", json={"name": name, "description": description}, headers=ADMIN
        )
        assert response.status == 201, await response.text()
        return name

    return make


@pytest.fixture
async def make_user(client: TestClient[Any, Any]) -> Callable[..., Awaitable[dict[str, str]]]:
    """Create a user and answer the Authorization headers that act as it."""

    async def make(name: str, scopes: list[str], admin: bool = False) -> dict[str, str]:
        response = await client.post(
            "/api/v1/users", json={"name": name, "scopes": scopes, "admin": admin}, headers=ADMIN
        )
        assert response.status == 201, await response.text()
        return {"Authorization": f"Bearer {(await response.json())['api_key']}"}

    return make


@pytest.fixture
async def make_token(client: TestClient[Any, Any]) -> Callable[..., Awaitable[dict[str, Any]]]:
    async def make(headers: dict[str, str] = ADMIN, **fields: Any) -> dict[str, Any]:
        response = await client.post("/api/v1/tokens", json=fields, headers=headers)
        assert response.status == 201, await response.text()
        token: dict[str, Any] = await response.json()
        return token

    return make
