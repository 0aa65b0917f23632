"""Finding a PostgreSQL server for the tests, and throwaway clusters for the fault tests.

The server is, in order: the one ``NEGOTIATION_TEST_POSTGRES`` names (a URL of a database the
tests may ``CREATE DATABASE`` from), the local one on 127.0.0.1:5432 (trust authentication),
or a throwaway cluster started with ``initdb`` and ``pg_ctl`` in a temporary directory. With
none of these, the PostgreSQL tests are skipped with the reason; under CI (``CI`` set) they
fail instead, so that a CI run cannot pass without them.

Each test gets a fresh database (``negotiation_test_<pid>_<n>``), dropped afterwards.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

try:
    import psycopg
except ImportError:  # the postgres extra is not installed
    psycopg = None  # type: ignore[assignment]

ENV = "NEGOTIATION_TEST_POSTGRES"
LOCAL = "postgresql://postgres@127.0.0.1:5432/postgres"

_names = itertools.count(1)


def unavailable(reason: str) -> None:
    """Skip the test with ``reason``; fail under CI, where PostgreSQL must be there."""
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL tests cannot run under CI: {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL tests skipped: {reason}")


def with_database(url: str, database: str) -> str:
    """``url`` with its database replaced by ``database``."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path="/" + database))


def reachable(url: str) -> str | None:
    """None if a connection to ``url`` works, else why not."""
    assert psycopg is not None
    try:
        with psycopg.connect(url, connect_timeout=3):
            return None
    except psycopg.Error as e:
        return " ".join(str(e).split())


def find_binaries() -> tuple[str, str] | None:
    """``initdb`` and ``pg_ctl``: on the PATH, or in a Debian-style /usr/lib/postgresql/N/bin."""
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl:
        return initdb, pg_ctl
    for bin_dir in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(bin_dir, "initdb").exists() and Path(bin_dir, "pg_ctl").exists():
            return str(Path(bin_dir, "initdb")), str(Path(bin_dir, "pg_ctl"))
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    """A throwaway PostgreSQL cluster in a temporary directory, on a free port.

    As root, ``initdb`` and the server run as the ``postgres`` user (PostgreSQL refuses root).
    """

    def __init__(self, binaries: tuple[str, str]) -> None:
        self.initdb, self.pg_ctl = binaries
        self.root = Path(tempfile.mkdtemp(prefix="negotiation-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self.prefix: list[str] = []
        if os.geteuid() == 0:
            runuser = shutil.which("runuser")
            if runuser is None:
                msg = "running as root without runuser: cannot start PostgreSQL as another user"
                raise RuntimeError(msg)
            self.prefix = [runuser, "-u", "postgres", "--"]
            shutil.chown(self.root, "postgres")
        self._run(self.initdb, "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8")

    def _run(self, *args: str) -> None:
        done = subprocess.run([*self.prefix, *args], capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            msg = f"{' '.join(args[:2])} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}"
            raise RuntimeError(msg)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=on"
        self._run(self.pg_ctl, "-D", str(self.data), "-l", str(self.root / "log"), "-o", options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run(self.pg_ctl, "-D", str(self.data), "-m", mode, "-w", "stop")

    def remove(self) -> None:
        with contextlib.suppress(RuntimeError):  # not running
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


def find_server() -> Iterator[str]:
    """Yield the URL of a server's maintenance database (see the module's docstring)."""
    if psycopg is None:
        unavailable("psycopg is not installed (pip install -e '.[postgres]')")
    reasons = []
    for url, source in ((os.environ.get(ENV), ENV), (LOCAL, "the local server")):
        if url:
            why = reachable(url)
            if why is None:
                yield url
                return
            if source == ENV:  # named, but down: that is an error, not a reason to look elsewhere
                unavailable(f"{ENV}={url} is not reachable ({why})")
            reasons.append(f"{source} ({url}): {why}")
    binaries = find_binaries()
    if binaries is None:
        unavailable("; ".join([*reasons, "initdb and pg_ctl not found"]))
    assert binaries is not None
    try:
        cluster = Cluster(binaries)
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        unavailable("; ".join([*reasons, f"a throwaway cluster: {e}"]))
        raise
    try:
        cluster.start()
    except RuntimeError as e:
        cluster.remove()
        unavailable("; ".join([*reasons, f"a throwaway cluster: {e}"]))
    try:
        yield cluster.url
    finally:
        cluster.remove()


def create_database(server: str) -> str:
    """Create a fresh database on the server; returns its URL."""
    assert psycopg is not None
    name = f"negotiation_test_{os.getpid()}_{next(_names)}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    return with_database(server, name)


def drop_database(server: str, url: str) -> None:
    """Drop a database :func:`create_database` made (closing what is still connected to it)."""
    assert psycopg is not None
    name = urllib.parse.urlsplit(url).path.lstrip("/")
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The URL of a PostgreSQL server's maintenance database (skips, or fails under CI, without one)."""
    yield from find_server()


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """The URL of a fresh, empty database, dropped after the test."""
    url = create_database(postgres_server)
    try:
        yield url
    finally:
        drop_database(postgres_server, url)
