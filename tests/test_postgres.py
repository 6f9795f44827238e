"""The store against a REAL PostgreSQL server, started by this module (no mock).

The session fixture finds initdb / pg_ctl (PATH, then /usr/lib/postgresql/*/bin), creates a
throw-away cluster in a temporary directory (as the unprivileged `postgres` OS user when the
tests run as root: initdb refuses root), listens only on 127.0.0.1 on a free port and on a unix
socket inside the temporary directory, creates the database `kbtest`, and stops the server and
removes the directory at the end. If the server cannot start, every test here is skipped with a
loud reason (.ci/run installs Debian's `postgresql`, so in CI they run).
"""

import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

psycopg = pytest.importorskip("psycopg", reason="psycopg[binary] is needed for the PostgreSQL tests")

from kb import catalog  # noqa: E402
from kb.errors import KbError  # noqa: E402
from kb.store import Store  # noqa: E402

KB = Path(sys.executable).parent / "kb"

USER_LAW = '''\
# A user's own law file, in the format of laws/*.toml (a lab's refit of the Chinchilla form).
schema = 1

[source]
bibkey = "mylab2026"
short = "MyLab refit"
title = "Our Own Refit of the Chinchilla Loss — naïve ε-test"
authors = ["Zoë Müller", "Ada Lovelace"]
year = 2026
url = "https://example.org/mylab2026"
verified = false
headline = { loss = "loss" }
notes = ["Internal runs on our deduplicated web mix; not peer reviewed."]

[source.conditions]
dataset = "mylab-web-v3 (deduplicated)"
tokenizer = "BPE 64k"
N_counts = "total (embeddings included)"
compute = "6ND FLOPs"
loss = "final validation loss, nats/token"

[[law]]
name = "loss"
aliases = ["parametric"]
title = "Parametric loss fit of our runs"
kind = "loss"
verified = false
predicts = { symbol = "L", quantity = "final validation loss", unit = "nats/token" }
formula = "E + A / N**alpha + B / D**beta"
latex = 'L(N, D) = E + \\frac{A}{N^{\\alpha}} + \\frac{B}{D^{\\beta}}'
location = "internal report, Table 1"
tags = ["language", "parametric", "mylab"]
notes = ["Huber loss on log-loss residuals, 40 runs from 50M to 3B parameters."]
variables.N = { meaning = "parameters (total, with embeddings)", unit = "params", fitted = ["5e7", "3e9"] }
variables.D = { meaning = "training tokens (single epoch)", unit = "tokens", fitted = ["1e9", "1e11"] }
constants.E = { value = "1.82", uncertainty = "0.03", unit = "nats/token", location = "Table 1" }
constants.A = { value = "482.01", unit = "nats/token * params^alpha", location = "Table 1" }
constants.B = { value = "2085.43", unit = "nats/token * tokens^beta", location = "Table 1" }
constants.alpha = { value = "0.3478", location = "Table 1" }
constants.beta = { value = "0.3658", location = "Table 1" }

[[law.check]]
label = "M1"
location = "Table 1, last row"
expr = "law(N=1e9, D=2e10)"
expect = "2.53"
tolerance = { abs = "0.05" }
'''


# ----------------------------------------------------------------------------- the server


def _find_pg_bin(name: str) -> "str | None":
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                        key=lambda p: [int(x) if x.isdigit() else 0 for x in p.split("/")[4].split(".")])
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _unavailable(reason: str):
    banner = "\n" + "!" * 78 + f"\n!!! PostgreSQL tests NOT RUN: {reason}\n" + "!" * 78
    print(banner, file=sys.stderr)
    if os.environ.get("CI") == "true":  # .ci/run installs PostgreSQL: not running it there is a failure
        pytest.fail(f"PostgreSQL tests could not run in CI: {reason}")
    pytest.skip(f"!!! PostgreSQL tests NOT RUN: {reason}")


@pytest.fixture(scope="session")
def pg_server():
    """A running throw-away PostgreSQL cluster: yields a dict with port, socket dir, admin conninfo."""
    initdb, pg_ctl = _find_pg_bin("initdb"), _find_pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        _unavailable("initdb/pg_ctl not found on PATH nor in /usr/lib/postgresql/*/bin "
                     "(apt-get install postgresql)")
    as_root = hasattr(os, "geteuid") and os.geteuid() == 0
    prefix = []
    if as_root:
        try:
            import pwd

            pw = pwd.getpwnam("postgres")
        except KeyError:
            _unavailable("running as root and there is no unprivileged 'postgres' OS user for initdb")
        runuser = shutil.which("runuser")
        prefix = [runuser, "-u", "postgres", "--"] if runuser else None
    base = Path(tempfile.mkdtemp(prefix="kb-pgtest-"))
    data, sock, log = base / "data", base / "sock", base / "server.log"
    sock.mkdir()
    if as_root:
        os.chmod(base, 0o755)
        for p in (base, sock):
            os.chown(p, pw.pw_uid, pw.pw_gid)

    def run(cmd, **kw):
        if as_root and prefix is None:  # no runuser: fall back to su
            import shlex

            cmd = ["su", "postgres", "-s", "/bin/sh", "-c", shlex.join(cmd)]
        elif as_root:
            cmd = prefix + cmd
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=base, **kw)

    port = _free_port()
    started = False
    try:
        r = run([initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "--encoding=UTF8",
                 "--locale=C", "--no-sync"])
        if r.returncode != 0:
            _unavailable(f"initdb failed ({r.returncode}): {(r.stderr or r.stdout).strip()[-800:]}")
        opts = (f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={sock} "
                f"-c fsync=off -c max_connections=50")
        r = run([pg_ctl, "-D", str(data), "-l", str(log), "-o", opts, "-w", "-t", "60", "start"])
        if r.returncode != 0:
            tail = log.read_text(errors="replace")[-1500:] if log.exists() else ""
            _unavailable(f"pg_ctl start failed ({r.returncode}): {(r.stderr or r.stdout).strip()[-500:]}\n{tail}")
        started = True
        admin = f"host=127.0.0.1 port={port} user=postgres dbname=postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("CREATE DATABASE kbtest")
        yield {"port": port, "socket_dir": str(sock), "admin": admin, "log": log}
    finally:
        if started:
            run([pg_ctl, "-D", str(data), "-m", "fast", "-w", "-t", "60", "stop"])
        shutil.rmtree(base, ignore_errors=True)


def _url(port: int, dbname: str) -> str:
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/{dbname}"


@pytest.fixture(scope="session")
def pg_url(pg_server):
    """The shared database `kbtest` (published laws only: tests that add laws use fresh_pg_url)."""
    return _url(pg_server["port"], "kbtest")


@pytest.fixture
def fresh_pg_url(pg_server):
    """A new, empty database for one test, dropped afterwards."""
    name = "kbtest_" + uuid.uuid4().hex[:12]
    with psycopg.connect(pg_server["admin"], autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield _url(pg_server["port"], name)
    with psycopg.connect(pg_server["admin"], autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def user_law_file(tmp_path) -> Path:
    path = tmp_path / "mylab2026.toml"
    path.write_text(USER_LAW, encoding="utf-8")
    return path


def _table_counts(url: str) -> dict:
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo) as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("kb_meta", "kb_source", "kb_law", "kb_variable", "kb_constant",
                          "kb_condition", "kb_check", "kb_relation")}


def _published_totals() -> dict:
    pub = catalog.published()
    laws = list(pub.laws.values())
    return {"sources": len(pub.sources), "laws": len(laws),
            "constants": sum(len(law.constants) for law in laws),
            "checks": sum(len(law.checks) for law in laws)}


def _kb(*args, env_extra=None):
    env = {k: v for k, v in os.environ.items() if k != "KB_DATABASE_URL"}
    env.update(env_extra or {})
    return subprocess.run([str(KB), *args], capture_output=True, text=True, env=env, timeout=300)


# ----------------------------------------------------------------------------- the tests


def test_server_is_really_postgresql(pg_url):
    store = Store(pg_url)
    assert store.engine.dialect.name == "postgresql"
    with store.engine.connect() as conn:
        from sqlalchemy import text

        assert "PostgreSQL" in conn.execute(text("SELECT version()")).scalar()


def test_sync_matches_published_catalog(pg_url):
    store = Store(pg_url)
    assert store.counts() == _published_totals()
    pub = catalog.published()
    assert set(store.query()) == set(pub.laws)
    raw = _table_counts(pg_url)
    laws = list(pub.laws.values())
    assert raw["kb_variable"] == sum(len(law.variables) for law in laws)
    assert raw["kb_condition"] == sum(len(law.conditions) for law in laws)
    assert raw["kb_relation"] == sum(len(s.relations) for s in pub.sources.values())
    assert store.user_catalog().laws == {}


def test_query_order_is_catalog_order(pg_url):
    store = Store(pg_url)
    pub = catalog.published()
    expected = [law.id for bibkey in sorted(pub.sources) for law in pub.laws_of(bibkey)]
    assert store.query() == expected


def test_query_by_kind_tag_source_text(pg_url, tmp_path):
    store = Store(pg_url)
    pub = catalog.published()
    for kind in sorted({law.kind for law in pub.laws.values()}):
        assert set(store.query(kind=kind)) == {i for i, law in pub.laws.items() if law.kind == kind}, kind
    assert store.query(kind="no-such-kind") == []

    chinchilla = store.query(tag="chinchilla")
    assert "hoffmann2022.approach3" in chinchilla
    assert set(chinchilla) == {i for i, law in pub.laws.items() if "chinchilla" in law.tags}
    # a tag matches whole words only: a prefix of a tag is not a tag
    assert store.query(tag="chinchill") == []

    assert set(store.query(source="kaplan2020")) == {law.id for law in pub.laws_of("kaplan2020")}
    assert store.query(kind="loss", source="hoffmann2022", tag="chinchilla")[0] == "hoffmann2022.approach3"

    found = store.query(text_="Chinchilla")  # case-insensitive, via the source's short name
    assert "hoffmann2022.approach3" in found
    assert set(store.query(text_="chinchilla loss")) <= set(found)
    assert store.query(text_="zzz-no-such-word-qq") == []
    # a text with SQL LIKE metacharacters or quotes is data, not syntax
    assert store.query(text_="100%") == store.query(text_="100%") and isinstance(store.query(text_="%'_\\"), list)

    # PostgreSQL answers exactly what SQLite answers
    lite = Store(f"sqlite:///{tmp_path / 'kb.sqlite'}")
    for kw in ({"kind": "loss"}, {"tag": "chinchilla"}, {"text_": "chinchilla"}, {"text_": "kaplan"},
               {"year": 2022}, {"verified": False}, {"source": "besiroglu2024"}):
        assert store.query(**kw) == lite.query(**kw), kw


def test_user_law_file_round_trips(fresh_pg_url, user_law_file):
    store = Store(fresh_pg_url)
    source, laws = store.add_file(user_law_file)
    assert source.bibkey == "mylab2026" and [law.id for law in laws] == ["mylab2026.loss"]
    expected_source, expected_laws = catalog.read_file(user_law_file, origin="user")

    for reader in (store, Store(fresh_pg_url)):  # same object and a fresh connection
        user = reader.user_catalog()
        assert list(user.sources) == ["mylab2026"]
        assert user.sources["mylab2026"] == expected_source
        assert user.laws == {law.id: law for law in expected_laws}
        law = user.laws["mylab2026.loss"]
        assert law.origin == "user"
        assert law.constant("A").printed == "482.01"  # printed digits survive the JSON column
        assert law.variable("N").fitted == (5e7, 3e9)
        assert user.sources["mylab2026"].authors == ("Zoë Müller", "Ada Lovelace")

    assert store.query(source="mylab2026") == ["mylab2026.loss"]
    assert "mylab2026.loss" in store.query(tag="mylab")
    assert "mylab2026.loss" in store.query(text_="müller")
    assert "mylab2026.loss" in store.query(kind="loss")
    totals = _published_totals()
    assert store.counts() == {"sources": totals["sources"] + 1, "laws": totals["laws"] + 1,
                              "constants": totals["constants"] + 5, "checks": totals["checks"] + 1}


def test_add_document_round_trips(fresh_pg_url):
    from kb.schema import parse_toml

    data = parse_toml(USER_LAW.replace("mylab2026", "otherlab2025"), "mem.toml")
    store = Store(fresh_pg_url)
    source, laws = store.add_document(data, "mem.toml")
    back = Store(fresh_pg_url).user_catalog()
    assert back.sources == {"otherlab2025": source}
    assert back.laws == {law.id: law for law in laws}


def test_user_law_cannot_take_a_published_bibkey(fresh_pg_url, tmp_path):
    store = Store(fresh_pg_url)
    before = store.counts()
    fake = tmp_path / "hoffmann2022.toml"
    fake.write_text(USER_LAW.replace("mylab2026", "hoffmann2022"), encoding="utf-8")
    with pytest.raises(KbError, match="published"):
        store.add_file(fake)
    with pytest.raises(KbError, match="published"):
        store.add_file(fake, replace=True)
    assert store.counts() == before
    assert store.user_catalog().laws == {}
    assert Store(fresh_pg_url).query(source="hoffmann2022") == [l.id for l in catalog.published().laws_of("hoffmann2022")]


def test_adding_twice_needs_replace(fresh_pg_url, user_law_file):
    store = Store(fresh_pg_url)
    store.add_file(user_law_file)
    after_first = store.counts()
    with pytest.raises(KbError, match="already"):
        store.add_file(user_law_file)
    with pytest.raises(KbError, match="already"):
        Store(fresh_pg_url).add_file(user_law_file)  # another connection sees it too
    assert store.counts() == after_first

    user_law_file.write_text(USER_LAW.replace('value = "1.82"', 'value = "1.79"'), encoding="utf-8")
    store.add_file(user_law_file, replace=True)
    assert store.counts() == after_first
    assert store.user_catalog().laws["mylab2026.loss"].constant("E").printed == "1.79"

    store.remove("mylab2026")
    assert store.user_catalog().sources == {}
    assert store.counts() == _published_totals()


def test_sync_is_idempotent(fresh_pg_url, user_law_file):
    first = Store(fresh_pg_url)
    first.add_file(user_law_file)
    rows = _table_counts(fresh_pg_url)
    second = Store(fresh_pg_url)
    assert _table_counts(fresh_pg_url) == rows
    assert second.sync() is False  # digest unchanged: nothing to do
    assert second.sync(force=True) is True  # a forced reload replaces, never duplicates
    assert _table_counts(fresh_pg_url) == rows
    assert rows["kb_meta"] == 2  # store_version + published_digest, once each
    assert set(second.user_catalog().laws) == {"mylab2026.loss"}  # users' laws survive a resync


def test_sync_reloads_when_digest_changes(fresh_pg_url):
    store = Store(fresh_pg_url)
    rows = _table_counts(fresh_pg_url)
    conninfo = fresh_pg_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo) as conn:
        conn.execute("UPDATE kb_meta SET value = 'stale' WHERE key = 'published_digest'")
        conn.execute("DELETE FROM kb_constant WHERE law = 'hoffmann2022.approach3'")
    Store(fresh_pg_url)
    assert _table_counts(fresh_pg_url) == rows
    assert store.sync() is False


def test_cli_list_with_db_option(pg_url):
    r = _kb("--db", pg_url, "list", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    pub = catalog.published()
    assert data["count"] == len(pub.laws)
    assert {law["id"] for law in data["laws"]} == set(pub.laws)
    assert data["sources"] == sorted(pub.sources)

    r = _kb("--db", pg_url, "list", "--kind", "loss", "--tag", "chinchilla", "--json")
    assert r.returncode == 0, r.stderr
    ids = [law["id"] for law in json.loads(r.stdout)["laws"]]
    assert "hoffmann2022.approach3" in ids
    assert all(pub.laws[i].kind == "loss" and "chinchilla" in pub.laws[i].tags for i in ids)


def test_cli_search_with_environment_url(pg_url):
    r = _kb("search", "chinchilla", "--json", env_extra={"KB_DATABASE_URL": pg_url})
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["query"] == "chinchilla"
    ids = [law["id"] for law in data["laws"]]
    assert data["count"] == len(ids) > 0
    assert "hoffmann2022.approach3" in ids
    assert set(ids) == set(Store(pg_url).query(text_="chinchilla"))  # same hits, ranked (kb search ranks)
    assert ids[0].startswith("hoffmann2022.")  # the alias "chinchilla" ranks its source first


def test_cli_add_then_show_against_postgres(fresh_pg_url, user_law_file):
    r = _kb("--db", fresh_pg_url, "add", str(user_law_file), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"added": "mylab2026", "laws": ["mylab2026.loss"]}
    r = _kb("--db", fresh_pg_url, "add", str(user_law_file), "--json")
    assert r.returncode == 2 and "Traceback" not in r.stderr and "already" in r.stderr, r.stderr
    r = _kb("--db", fresh_pg_url, "list", "--source", "mylab2026", "--json")
    assert r.returncode == 0, r.stderr
    assert [law["id"] for law in json.loads(r.stdout)["laws"]] == ["mylab2026.loss"]
    r = _kb("--db", fresh_pg_url, "show", "mylab2026.loss", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["constants"]["A"]["value"] in ("482.01", 482.01)
    r = _kb("--db", fresh_pg_url, "eval", "mylab2026.loss", "N=1B", "D=20B", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["output"]["value"] == pytest.approx(
        1.82 + 482.01 / 1e9 ** 0.3478 + 2085.43 / 2e10 ** 0.3658, rel=1e-9)


def test_cli_bad_url_is_a_clean_error(pg_server):
    bad = _url(pg_server["port"], "no_such_database")
    r = _kb("--db", bad, "list", "--json")
    assert r.returncode != 0
    assert "Traceback" not in r.stderr and r.stdout == ""
    assert "no_such_database" in r.stderr


def test_concurrent_first_open_of_a_shared_database(pg_server):
    """A team's first `kb` commands against a new shared database, at the same moment, all succeed."""
    names = ["kbtest_race_" + uuid.uuid4().hex[:8] for _ in range(3)]
    with psycopg.connect(pg_server["admin"], autocommit=True) as conn:
        for name in names:
            conn.execute(f'CREATE DATABASE "{name}"')
    try:
        failures = []
        env = {k: v for k, v in os.environ.items() if k != "KB_DATABASE_URL"}
        for name in names:
            url = _url(pg_server["port"], name)
            procs = [subprocess.Popen([str(KB), "--db", url, "list", "--json"], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE, text=True, env=env) for _ in range(4)]
            for p in procs:
                _, err = p.communicate(timeout=300)
                if p.returncode != 0:
                    failures.append(err.strip())
            assert _table_counts(url)["kb_law"] == len(catalog.published().laws)
        assert not failures, "\n".join(failures)
    finally:
        with psycopg.connect(pg_server["admin"], autocommit=True) as conn:
            for name in names:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_concurrent_add_of_the_same_new_source(fresh_pg_url, user_law_file):
    """Four `kb add` of one new source at the same moment: one wins, the others are told it is
    already in the store (exit 2, one line), and the store holds it once."""
    Store(fresh_pg_url)  # tables and published laws first, so the race is the add alone
    env = {k: v for k, v in os.environ.items() if k != "KB_DATABASE_URL"}
    procs = [subprocess.Popen([str(KB), "--db", fresh_pg_url, "add", str(user_law_file)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for _ in range(4)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    assert sorted(code for code, _ in results) == [0, 2, 2, 2], results
    for code, err in results:
        if code == 2:
            assert "already in the store" in err and len(err.strip().splitlines()) == 1, err
            assert "Traceback" not in err and "IntegrityError" not in err
    counts = _table_counts(fresh_pg_url)
    assert counts["kb_source"] == len(catalog.published().sources) + 1
    assert counts["kb_law"] == len(catalog.published().laws) + 1
