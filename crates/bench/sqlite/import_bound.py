#!/usr/bin/env python3
"""What SQLite itself allows for a first member import, with no Huiyuan code in the loop.

Copies the members, identifiers and name-search tokens that `huiyuan-bench import` wrote into a
fresh database built from the SQLite migrations, 5,000 members per transaction, in the order the
importer writes them (identifiers and tokens sorted by their index keys), under the import's
connection settings. Only the inserts: no look-ups, no review, no deciding. Prints members per
second of wall time and the share of CPU samples inside SQLite when run under `perf record`.

    ./target/release/huiyuan-bench import --database-url 'sqlite:///tmp/import.sqlite?mode=rwc'
    python3 crates/bench/sqlite/import_bound.py /tmp/import.sqlite
    # SQLite's own share of the time (the rest is Python building the rows):
    perf record -o /tmp/bound.data python3 crates/bench/sqlite/import_bound.py /tmp/import.sqlite
    perf report -i /tmp/bound.data --sort dso --stdio | head -20
    # SQLite alone from C: the same inserts run by the sqlite3 shell (Debian: apt install sqlite3),
    # Python only staging them:
    python3 crates/bench/sqlite/import_bound.py /tmp/import.sqlite --cli
"""

import argparse
import glob
import os
import resource
import sqlite3
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MIGRATIONS = os.path.join(HERE, "..", "..", "store", "migrations", "sqlite", "*.sql")
BATCH = 5_000


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("source", help="a SQLite database `huiyuan-bench import` filled")
    parser.add_argument("--batch", type=int, default=BATCH)
    parser.add_argument("--page-size", type=int, help="bytes per page of the fresh database")
    parser.add_argument("--binary-keys", action="store_true",
                        help="store blind indexes and tokens as 16-byte blobs instead of hex text")
    parser.add_argument("--cli", action="store_true",
                        help="run the inserts in the sqlite3 shell (C, no Python in the timed part): "
                             "each batch an INSERT … SELECT from a staged copy of its rows")
    parser.add_argument("--without-tokens", action="store_true",
                        help="leave the name-search tokens out (what name search costs)")
    args = parser.parse_args()

    source = sqlite3.connect(args.source)
    tenant = source.execute("SELECT tenant_id FROM members GROUP BY tenant_id ORDER BY count(*) DESC LIMIT 1").fetchone()[0]
    members = source.execute("SELECT * FROM members WHERE tenant_id = ? ORDER BY seq", (tenant,)).fetchall()
    member_columns = [d[0] for d in source.execute("SELECT * FROM members LIMIT 0").description]
    identifiers = {}
    for row in source.execute("SELECT * FROM member_identifiers WHERE tenant_id = ?", (tenant,)):
        identifiers.setdefault(row[1], []).append(row)
    identifier_columns = [d[0] for d in source.execute("SELECT * FROM member_identifiers LIMIT 0").description]
    tokens = {}
    for row in source.execute("SELECT tenant_id, token, member_id FROM member_search_tokens WHERE tenant_id = ?", (tenant,)):
        tokens.setdefault(row[2], []).append(row)
    tenant_row = source.execute("SELECT * FROM tenants WHERE tenant_id = ?", (tenant,)).fetchone()
    tenant_columns = [d[0] for d in source.execute("SELECT * FROM tenants LIMIT 0").description]

    with tempfile.TemporaryDirectory() as folder:
        db = sqlite3.connect(os.path.join(folder, "bound.sqlite"), isolation_level=None)
        if args.page_size:
            db.execute(f"PRAGMA page_size = {args.page_size}")
        for pragma in ("journal_mode = WAL", "synchronous = NORMAL", "foreign_keys = ON",
                       "temp_store = MEMORY", "cache_size = -131072", "wal_autocheckpoint = 100000"):
            db.execute(f"PRAGMA {pragma}")
        for path in sorted(glob.glob(MIGRATIONS)):
            with open(path) as f:
                db.executescript(f.read())
        db.execute(f"INSERT INTO tenants ({', '.join(tenant_columns)}) VALUES ({', '.join('?' * len(tenant_columns))})", tenant_row)
        insert_member = f"INSERT INTO members ({', '.join(member_columns)}) VALUES ({', '.join('?' * len(member_columns))})"
        insert_identifier = (f"INSERT INTO member_identifiers ({', '.join(identifier_columns)}) "
                             f"VALUES ({', '.join('?' * len(identifier_columns))})")
        insert_token = "INSERT INTO member_search_tokens (tenant_id, token, member_id) VALUES (?, ?, ?)"
        kind = identifier_columns.index("kind")
        index = identifier_columns.index("value_index")
        if args.binary_keys:
            # The blind indexes are hex text; as blobs each key is half as long.
            def unhex(row, columns):
                return tuple(bytes.fromhex(v) if i in columns and isinstance(v, str) else v for i, v in enumerate(row))
            keyed = {member_columns.index(c) for c in ("name_index", "address_index", "id_card_index")}
            members[:] = [unhex(m, keyed) for m in members]
            for rows in identifiers.values():
                rows[:] = [unhex(r, {index}) for r in rows]
            for rows in tokens.values():
                rows[:] = [unhex(r, {1}) for r in rows]

        if args.cli:
            db.close()
            replay_in_cli(folder, args, members, member_columns, identifiers, identifier_columns, tokens)
            return
        started, cpu = time.perf_counter(), time.process_time()
        for at in range(0, len(members), args.batch):
            batch = members[at:at + args.batch]
            ids = [m[1] for m in batch]
            batch_identifiers = sorted((r for i in ids for r in identifiers.get(i, [])), key=lambda r: (r[kind], r[index]))
            batch_tokens = sorted((r for i in ids for r in tokens.get(i, [])), key=lambda r: (r[1], r[2]))
            db.execute("BEGIN IMMEDIATE")
            db.executemany(insert_member, batch)
            db.executemany(insert_identifier, batch_identifiers)
            if not args.without_tokens:
                db.executemany(insert_token, batch_tokens)
            db.execute("COMMIT")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        identifier_count = sum(len(v) for v in identifiers.values())
        token_count = 0 if args.without_tokens else sum(len(v) for v in tokens.values())
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        print(f"SQLite {sqlite3.sqlite_version}, {page_size}-byte pages: {len(members)} members, {identifier_count} identifiers, "
              f"{token_count} tokens in {seconds:.2f} s ({cpu:.2f} s CPU) = {len(members) / seconds:.0f} members/s")


def replay_in_cli(folder, args, members, member_columns, identifiers, identifier_columns, tokens):
    """Stages each batch's rows, in the importer's order, as a contiguous rowid range of a side
    database, then times the sqlite3 shell copying them batch by batch into the fresh database.
    Reading a staged range is a sequential scan, small beside the inserts; what is timed is SQLite
    in C under the import's settings."""
    kind = identifier_columns.index("kind")
    index = identifier_columns.index("value_index")
    stage = sqlite3.connect(os.path.join(folder, "stage.sqlite"), isolation_level=None)
    stage.execute(f"CREATE TABLE members ({', '.join(member_columns)})")
    stage.execute(f"CREATE TABLE member_identifiers ({', '.join(identifier_columns)})")
    stage.execute("CREATE TABLE member_search_tokens (tenant_id, token, member_id)")
    ranges = []
    next_rowid = {"members": 1, "member_identifiers": 1, "member_search_tokens": 1}
    stage.execute("BEGIN")
    for at in range(0, len(members), args.batch):
        batch = members[at:at + args.batch]
        ids = [m[1] for m in batch]
        batch_identifiers = sorted((r for i in ids for r in identifiers.get(i, [])), key=lambda r: (r[kind], r[index]))
        batch_tokens = sorted((r for i in ids for r in tokens.get(i, [])), key=lambda r: (r[1], r[2]))
        if args.without_tokens:
            batch_tokens = []
        spans = []
        for table, rows in (("members", batch), ("member_identifiers", batch_identifiers),
                            ("member_search_tokens", batch_tokens)):
            first = next_rowid[table]
            if rows:
                stage.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(rows[0]))})", rows)
            next_rowid[table] = first + len(rows)
            spans.append((table, first, first + len(rows) - 1))
        ranges.append(spans)
    stage.execute("COMMIT")
    stage.close()

    script = [".bail on"]
    script += [f"PRAGMA {p};" for p in ("journal_mode = WAL", "synchronous = NORMAL", "foreign_keys = ON",
                                          "temp_store = MEMORY", "cache_size = -131072", "wal_autocheckpoint = 100000")]
    script.append(f"ATTACH '{os.path.join(folder, 'stage.sqlite')}' AS stage;")
    for spans in ranges:
        script.append("BEGIN IMMEDIATE;")
        for table, first, last in spans:
            if last >= first:
                script.append(f"INSERT INTO main.{table} SELECT * FROM stage.{table} WHERE rowid BETWEEN {first} AND {last};")
        script.append("COMMIT;")
    script.append("PRAGMA wal_checkpoint(TRUNCATE);")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(["sqlite3", os.path.join(folder, "bound.sqlite")], input="\n".join(script), text=True,
                   check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    version = subprocess.run(["sqlite3", "--version"], capture_output=True, text=True).stdout.split()[0]
    identifier_count = sum(last - first + 1 for spans in ranges for table, first, last in spans if table == "member_identifiers")
    token_count = sum(last - first + 1 for spans in ranges for table, first, last in spans if table == "member_search_tokens")
    print(f"sqlite3 shell {version}: {len(members)} members, {identifier_count} identifiers, {token_count} tokens "
          f"in {seconds:.2f} s ({cpu:.2f} s CPU) = {len(members) / seconds:.0f} members/s")


if __name__ == "__main__":
    main()
