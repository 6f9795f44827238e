"""Store integrity on SQLite: transactions, foreign keys, versions, concurrent writers, and the
published laws' protection. (tests/test_postgres.py runs the same ideas on a real PostgreSQL.)"""

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import event
from sqlmodel import Session, select

from conftest import KB, ROOT
from kb import store as store_mod
from kb.catalog import published
from kb.errors import KbError

USER_LAW = (ROOT / "laws" / "kaplan2020.toml").read_text()


def user_file(tmp_path, bibkey):
    path = tmp_path / f"{bibkey}.toml"
    path.write_text(USER_LAW.replace('bibkey = "kaplan2020"', f'bibkey = "{bibkey}"'))
    return path


def rows(db, table):
    with sqlite3.connect(db) as conn:
        return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def test_sync_mirrors_the_catalog_and_is_idempotent(tmp_path):
    url = f"sqlite:///{tmp_path / 's.sqlite'}"
    first = store_mod.Store(url).counts()
    cat = published()
    assert first["sources"] == len(cat.sources) and first["laws"] == len(cat.laws)
    assert store_mod.Store(url).counts() == first
    assert store_mod.Store(url).sync(force=True) and store_mod.Store(url).counts() == first


def test_foreign_keys_are_enforced(tmp_path):
    url = f"sqlite:///{tmp_path / 'fk.sqlite'}"
    st = store_mod.Store(url)
    with Session(st.engine) as session:
        assert session.exec(select(store_mod.Meta)).first() is not None
        fk = session.connection().exec_driver_sql("PRAGMA foreign_keys").scalar()
        assert fk == 1
    with pytest.raises(Exception):
        with Session(st.engine) as session, session.begin():
            session.add(store_mod.ConstantRow(law="no.such.law", position=0, symbol="x", location="nowhere"))


def test_interrupted_add_leaves_nothing(tmp_path, monkeypatch):
    db = tmp_path / "tx.sqlite"
    st = store_mod.Store(f"sqlite:///{db}")
    before = {t: rows(db, t) for t in ("kb_source", "kb_law", "kb_constant", "kb_check")}

    def failing_insert(conn, cursor, statement, *args):
        if statement.startswith("INSERT INTO kb_check"):  # laws and constants are written by now
            raise RuntimeError("disk unplugged halfway through")

    event.listen(st.engine, "before_cursor_execute", failing_insert)
    with pytest.raises(RuntimeError):
        st.add_file(user_file(tmp_path, "half2026"))
    event.remove(st.engine, "before_cursor_execute", failing_insert)
    assert {t: rows(db, t) for t in before} == before
    assert "half2026" not in st.user_catalog().sources


def test_published_ids_cannot_be_replaced(tmp_path):
    st = store_mod.Store(f"sqlite:///{tmp_path / 'p.sqlite'}")
    with pytest.raises(KbError, match="published source"):
        st.add_file(user_file(tmp_path, "hoffmann2022"), replace=True)


def test_newer_store_version_is_refused_and_older_is_kept(tmp_path):
    db = tmp_path / "v.sqlite"
    store_mod.Store(f"sqlite:///{db}")
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT value FROM kb_meta WHERE key='store_version'").fetchone()[0] == str(store_mod.STORE_VERSION)
        conn.execute("UPDATE kb_meta SET value = ? WHERE key = 'store_version'", (str(store_mod.STORE_VERSION + 1),))
    with pytest.raises(KbError, match="newer scaling-kb"):
        store_mod.Store(f"sqlite:///{db}")


def test_changed_law_files_refresh_the_store(tmp_path):
    db = tmp_path / "d.sqlite"
    store_mod.Store(f"sqlite:///{db}")
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE kb_meta SET value = 'stale' WHERE key = 'published_digest'")
        conn.execute("DELETE FROM kb_check")
    st = store_mod.Store(f"sqlite:///{db}")
    assert st.counts()["checks"] == sum(len(law.checks) for law in published().laws.values())


def test_concurrent_adds_lose_nothing(tmp_path):
    """Six `kb add` processes on one new SQLite file at once: all six sources arrive, whole."""
    db = tmp_path / "c.sqlite"
    env = {"KB_DATABASE_URL": f"sqlite:///{db}", "PATH": str(Path(sys.executable).parent)}
    procs = [subprocess.Popen([str(KB), "add", str(user_file(tmp_path, f"lab{i}2026")), "--json"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for i in range(6)]
    results = [(p.wait(timeout=120), p.stdout.read(), p.stderr.read()) for p in procs]
    assert all(code == 0 for code, _, _ in results), results
    st = store_mod.Store(f"sqlite:///{db}")
    users = st.user_catalog()
    assert sorted(users.sources) == [f"lab{i}2026" for i in range(6)]
    per_source = len([law for law in users.laws.values() if law.source == "lab02026"])
    assert all(len(users.laws_of(f"lab{i}2026")) == per_source for i in range(6))
    assert st.counts()["sources"] == len(published().sources) + 6


def test_bad_database_url_is_one_line(kb):
    r = kb("list", env={"KB_DATABASE_URL": "nosuchdb://x"})
    assert r.code == 2 and len(r.err.strip().splitlines()) == 1 and "Traceback" not in r.err
