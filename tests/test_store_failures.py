"""The store under concurrency and failure, on SQLite (issue 11, item 7): a writer that waits past
the busy timeout fails with one line; readers are not blocked by a writer (WAL); a damaged file,
a read-only store and a full disk are exit 2 naming the file, and leave the store as it was.
(The PostgreSQL race of two `kb add` is in tests/test_postgres.py.)

What is simulated, honestly: the other writer is a plain sqlite3 connection holding a write
transaction (as a long `kb add --replace` does); read-only is SQLite's `mode=ro` URL (tests run
as root, for whom file permissions do not apply); a full disk is SQLite's `max_page_count`, which
makes SQLite report SQLITE_FULL exactly as a full file system does.
"""

import hashlib
import subprocess
import sys
import time

import pytest
from sqlalchemy import event

from kb import store as store_mod
from kb.catalog import published
from kb.errors import KbError
from test_store import user_file

HOLD = '''
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")  # the write lock, as a long `kb add --replace` holds it
conn.execute("UPDATE kb_meta SET value = value WHERE key = 'store_version'")
print("holding", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
'''


def holder(db, seconds):
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(db), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "holding"
    return proc


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def store_db(tmp_path, kb):
    db = tmp_path / "kb.sqlite"
    assert kb("list").code == 0  # creates and syncs the store (the conftest points KB_DATABASE_URL here)
    return db


def test_store_is_in_wal_mode(store_db):
    import sqlite3

    with sqlite3.connect(store_db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_writer_past_the_busy_timeout_fails_with_one_line(kb, tmp_path, store_db):
    lock = holder(store_db, 60)  # longer than any start-up on a loaded machine; ended below
    try:
        t = time.monotonic()
        r = kb("add", user_file(tmp_path, "busy2026"), env={"KB_BUSY_TIMEOUT": "300"})
        waited = time.monotonic() - t
        assert lock.poll() is None  # the lock was held all along
    finally:
        lock.kill()
        lock.wait(timeout=30)
    assert r.code == 2, r.err
    assert r.err.strip().splitlines() == [r.err.strip()] and "the store is busy; try again" in r.err
    assert "database is locked" not in r.err and "Traceback" not in r.err
    assert waited >= 0.3 * (store_mod.BUSY_RETRIES + 1)  # it waited, and retried, before giving up
    assert kb("add", user_file(tmp_path, "busy2026")).code == 0  # and succeeds once the lock is gone


def test_readers_are_not_blocked_by_a_writer(kb, store_db):
    lock = holder(store_db, 90)
    try:
        r = kb("list", "--json", env={"KB_BUSY_TIMEOUT": "100000"})
        still_writing = lock.poll() is None
        r2 = kb("search", "chinchilla", "--json", env={"KB_BUSY_TIMEOUT": "100000"})
        still_writing = still_writing and lock.poll() is None
    finally:
        lock.kill()
        lock.wait(timeout=30)
    assert r.code == 0 and r2.code == 0, r.err + r2.err
    assert r.json()["count"] == len(published().laws)
    assert still_writing  # both read while the write transaction was open (it never committed)


def test_a_damaged_store_is_named_and_left_alone(kb, tmp_path, store_db):
    data = bytearray(store_db.read_bytes())
    page = 4096
    assert len(data) > 4 * page
    for start in range(page, len(data), page):  # every b-tree page header after the schema page
        data[start:start + 100] = b"\xff" * 100
    store_db.write_bytes(bytes(data))
    for wal in tmp_path.glob("kb.sqlite-*"):
        wal.unlink()
    before = digest(store_db)
    for args in (["list"], ["search", "chinchilla"], ["add", user_file(tmp_path, "dmg2026")]):
        r = kb(*args)
        assert r.code == 2, (args, r.err)
        assert len(r.err.strip().splitlines()) == 1 and "Traceback" not in r.err
        assert str(store_db) in r.err and "damaged" in r.err and "backup" in r.err, r.err
    assert digest(store_db) == before


def test_not_a_database_is_named(kb, tmp_path):
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database " * 400)
    r = kb("list", env={"KB_DATABASE_URL": f"sqlite:///{junk}"})
    assert r.code == 2 and str(junk) in r.err and "damaged" in r.err and "Traceback" not in r.err, r.err
    assert junk.read_bytes() == b"this is not a database " * 400


def test_a_read_only_store_reads_and_refuses_writes(kb, tmp_path, store_db):
    ro = f"sqlite:///file:{store_db}?mode=ro&uri=true"
    r = kb("list", "--json", env={"KB_DATABASE_URL": ro})
    assert r.code == 0, r.err
    before = digest(store_db)
    r = kb("add", user_file(tmp_path, "ro2026"), env={"KB_DATABASE_URL": ro})
    assert r.code == 2 and len(r.err.strip().splitlines()) == 1 and "Traceback" not in r.err
    assert str(store_db) in r.err and "read-only" in r.err, r.err
    assert digest(store_db) == before


def test_a_full_disk_is_named_and_changes_nothing(tmp_path):
    db = tmp_path / "full.sqlite"
    st = store_mod.Store(f"sqlite:///{db}")
    before = st.counts()

    @event.listens_for(st.engine, "connect")
    def tiny(dbapi_connection, _record):  # the file may not grow: SQLITE_FULL, as on a full disk
        pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages + 2}")

    st.engine.dispose()
    big = user_file(tmp_path, "full2026")
    with pytest.raises(KbError) as info:
        st.add_file(big)
    message = str(info.value)
    assert "disk is full" in message and str(db) in message and "nothing was changed" in message
    event.remove(st.engine, "connect", tiny)
    st.engine.dispose()
    assert st.counts() == before
    assert "full2026" not in st.user_catalog().sources
