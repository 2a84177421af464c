#!/usr/bin/env python3
"""What PostgreSQL itself allows for the orders benchmark's ratio, with no Huiyuan code in the loop.

Replays, from pgbench (a C client), the statements one order sends on PostgreSQL (the API-key and
member look-ups, the intake, the rule-counter read, the writes: order, three lines, payment, ledger
entry, lot, balance, five rule accruals, audit entry), copied from a real order of a database that
`huiyuan-bench orders --database-url …` has filled, and alternates it with a single-row insert
transaction. Both scripts start with the same random-member look-up. The ratio of the two rates
bounds what any server can reach with these rows on this machine.

    psql -h 127.0.0.1 -U postgres -d test -c 'CREATE DATABASE huiyuan_bench_orders'
    ./target/release/huiyuan-bench orders --seconds 5 --members 200 \\
        --database-url postgres://postgres@127.0.0.1:5432/huiyuan_bench_orders
    python3 crates/bench/pgbench/order_bound.py postgres://postgres@127.0.0.1:5432/huiyuan_bench_orders

Needs `psql` and `pgbench`. Adds orders to the database; drops its helper tables at the end.
"""

import argparse
import json
import os
import re
import subprocess
import tempfile

# A time-ordered id, as the server's UUID v7 ids are (random ids would scatter index inserts).
UUID7 = ("(lpad(to_hex(floor(extract(epoch from clock_timestamp()) * 1000)::bigint), 12, '0')"
         " || '7' || substr(md5(random()::text), 1, 19))::uuid")
IDS = ["oid", "eid", "lid", "aud", "a1", "a2", "a3", "a4", "a5"]


def psql(url, sql):
    return subprocess.run(["psql", url, "-qAtX", "-v", "ON_ERROR_STOP=1", "-c", sql],
                          check=True, capture_output=True, text=True).stdout.strip()


def one_json(url, sql):
    text = psql(url, sql)
    if not text:
        raise SystemExit(f"nothing found for: {sql}\nrun `huiyuan-bench orders` on this database first")
    return json.loads(text)


def literal(value):
    """A SQL literal; colons are spelled chr(58) so pgbench does not take them for variables."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return str(value)
    cast = ""
    if isinstance(value, (dict, list)):
        value, cast = json.dumps(value), "::jsonb"
    text = str(value).replace("'", "''").replace(":", "'||chr(58)||'")
    return f"('{text}'){cast}"


def var(name, kind="uuid"):
    return f"CAST(:{name} AS {kind})"


def scripts(url, members, minimal=False):
    order = one_json(url, "SELECT row_to_json(o) FROM orders o WHERE member_id IS NOT NULL "
                          "AND points_earned > 0 AND accrual IS NOT NULL ORDER BY created_at LIMIT 1")
    oid = order["id"]
    lines = one_json(url, f"SELECT json_agg(row_to_json(l) ORDER BY line_no) FROM order_lines l WHERE order_id = '{oid}'")
    accruals = one_json(url, f"SELECT json_agg(row_to_json(a)) FROM rule_accruals a WHERE order_id = '{oid}'")
    entry = one_json(url, f"SELECT row_to_json(e) FROM points_entries e WHERE reference = 'order:{oid}' AND kind = 'earn'")
    lot = one_json(url, f"SELECT row_to_json(l) FROM points_lots l WHERE entry_id = '{entry['id']}'")
    audit = one_json(url, f"SELECT row_to_json(a) FROM audit_log a WHERE target_id = '{oid}' AND action = 'order.created'")
    key_hash = psql(url, f"SELECT key_hash FROM api_keys WHERE tenant_id = '{order['tenant_id']}' AND revoked_at IS NULL LIMIT 1")
    t = order["tenant_id"]
    o_text = var("oid", "text")

    pick = (f"\\set r random(1, {members})\n"
            "SELECT id AS m, " + ", ".join(f"{UUID7} AS {i}" for i in IDS)
            + " FROM bench_pg_members WHERE n = :r \\gset\n")
    reads = (
        "SELECT k.id, k.name, k.channel_id, k.store_id, k.permissions, k.key_prefix, k.created_by, "
        "k.created_at, k.revoked_at, k.last_used_at FROM api_keys k JOIN channels ch ON ch.tenant_id = "
        f"k.tenant_id AND ch.id = k.channel_id WHERE k.tenant_id = '{t}' AND k.key_hash = "
        f"{literal(key_hash)} AND k.revoked_at IS NULL AND ch.archived = FALSE;\n"
        "SELECT id, seq, member_no, status, merged_into, name_enc, name_index, gender, birthday, province, "
        "city, district, address_enc, address_index, id_card_enc, id_card_index, preferred_store_id, "
        "source_channel_id, source_format_id, source_store_id, guide_id, referral_code, referred_by, "
        f"created_at, updated_at, erased_at FROM members WHERE tenant_id = '{t}' AND id = {var('m')};\n")
    intake = (
        "WITH o AS (INSERT INTO orders (tenant_id, id, member_id, channel_id, external_id, store_id, "
        "format_id, guide_id, occurred_at, total_fen, paid_by_points_fen, paid_by_coupons_fen, refunded_fen, "
        "status, points_earned, points_reversed, accrual, claimed_at, created_at, updated_at) VALUES "
        f"('{t}', {var('oid')}, {var('m')}, {literal(order['channel_id'])}, 'x-' || {o_text}, "
        f"{literal(order['store_id'])}, {literal(order['format_id'])}, NULL, now(), {order['total_fen']}, "
        "0, 0, 0, 'completed', 0, 0, NULL, NULL, now(), now()) ON CONFLICT DO NOTHING "
        "RETURNING 'order' AS what, 0 AS available), b AS (INSERT INTO points_balances (tenant_id, "
        f"member_id, available, pending, tier_points, lifetime_earned, updated_at) SELECT '{t}', {var('m')}, "
        f"0, 0, 0, 0, now() WHERE EXISTS (SELECT 1 FROM members WHERE tenant_id = '{t}' AND id = {var('m')} "
        "AND status = 'active') ON CONFLICT (tenant_id, member_id) DO UPDATE SET updated_at = "
        "excluded.updated_at RETURNING 'balance' AS what, available) "
        "SELECT (SELECT COUNT(*) FROM o), (SELECT available FROM b);\n"
        "SELECT CAST(COALESCE(SUM(points), 0) AS BIGINT) FROM rule_accruals WHERE tenant_id = "
        f"'{t}' AND member_id = {var('m')} AND rule_id = '{accruals[0]['rule_id']}' AND occurred_at >= "
        "now() - interval '1 day' AND occurred_at < now();\n")
    amount = entry["amount"]
    accrual_rows = ", ".join(
        f"('{t}', {var('m')}, {var('a' + str(i + 1))}, '{a['rule_id']}', {var('oid')}, {a['points']}, now())"
        for i, a in enumerate(accruals[:5]))
    line_rows = ", ".join(
        f"('{t}', {var('oid')}, {l['line_no']}, {literal(l['sku'])}, {literal(l['name'])}, "
        f"{literal(l['category_path'])}, {l['quantity']}, {l['unit_price_fen']}, {l['amount_fen']}, "
        f"{literal(l['excluded'])}, 0, 0, {l['points_earned']})" for l in lines)
    parts = [
        "INSERT INTO points_entries (tenant_id, member_id, id, kind, amount, debit_account, credit_account, "
        f"format_id, reference, reason, draws, natural_key, created_at) VALUES ('{t}', {var('m')}, "
        f"{var('eid')}, 'earn', {amount}, {literal(entry['debit_account'])}, {literal(entry['credit_account'])}, "
        f"{literal(entry['format_id'])}, 'order' || chr(58) || {o_text}, {literal(entry['reason'])}, "
        f"{literal(entry['draws'])}, 'order' || chr(58) || {o_text} || chr(58) || 'earn', now())",
        "INSERT INTO points_lots (tenant_id, member_id, id, entry_id, format_id, earned_at, available_at, "
        f"expires_at, pending, original, remaining) VALUES ('{t}', {var('m')}, {var('lid')}, {var('eid')}, "
        f"{literal(lot['format_id'])}, now(), now(), {literal(lot['expires_at'])}::timestamptz, FALSE, "
        f"{amount}, {amount})",
        f"UPDATE points_balances SET available = available + {amount}, pending = pending + 0, "
        f"tier_points = tier_points + {amount}, lifetime_earned = lifetime_earned + {amount}, "
        f"updated_at = now() WHERE tenant_id = '{t}' AND member_id = {var('m')}",
        "INSERT INTO rule_accruals (tenant_id, member_id, id, rule_id, order_id, points, occurred_at) "
        f"VALUES {accrual_rows}",
        f"UPDATE orders SET points_earned = {amount}, accrual = {literal(order['accrual'])}, "
        f"updated_at = now() WHERE tenant_id = '{t}' AND id = {var('oid')}",
        "INSERT INTO order_lines (tenant_id, order_id, line_no, sku, name, category_path, quantity, "
        "unit_price_fen, amount_fen, excluded, refunded_quantity, refunded_fen, points_earned) "
        f"VALUES {line_rows}",
        "INSERT INTO order_payments (tenant_id, order_id, seq, method, amount_fen) VALUES "
        f"('{t}', {var('oid')}, 0, 'wechat_pay', {order['total_fen']})",
        "INSERT INTO audit_log (tenant_id, id, actor_kind, actor_id, credential_id, action, target_type, "
        f"target_id, summary, request_id, created_at) VALUES ('{t}', {var('aud')}, 'api_key', "
        f"{literal(audit['actor_id'])}, {literal(audit['credential_id'])}, 'order.created', 'order', "
        f"{var('oid')}, {literal(audit['summary'])}, gen_random_uuid()::text, now())",
    ]
    if minimal:
        # Only rows no design of the issue can do without: the order, the ledger entry, its lot,
        # the balance and the audit entry (lines, payments, rule counters and the order's accrual
        # left out, as if they lived in the order row or nowhere).
        intake = intake.split("SELECT CAST(COALESCE(SUM(points)")[0]
        parts = [parts[0], parts[1], parts[2], parts[7]]
    writes = "WITH " + ",\n".join(f"w{i} AS ({p})" for i, p in enumerate(parts)) + "\nSELECT 1;\n"
    order_script = pick + reads + "BEGIN;\n" + intake + writes + "COMMIT;\n"
    raw_script = (pick + "INSERT INTO bench_pg_raw (id, worker, payload) VALUES (nextval('bench_pg_raw_seq'), "
                  "CAST(:client_id AS bigint), 'payload-' || CAST(:r AS text));\n")
    return raw_script, order_script


def pgbench(url, script, clients, seconds):
    out = subprocess.run(["pgbench", "-n", "-M", "prepared", "-c", str(clients), "-j", "2",
                          "-T", str(seconds), "-f", script, url],
                         capture_output=True, text=True)
    found = re.search(r"^tps = ([0-9.]+)", out.stdout, re.M)
    if out.returncode != 0 or not found:
        raise SystemExit(f"pgbench failed:\n{out.stdout}\n{out.stderr}")
    return float(found.group(1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("database_url")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--minimal", action="store_true",
                        help="replay only the order, entry, lot, balance and audit writes")
    args = parser.parse_args()
    url = args.database_url
    psql(url, "DROP TABLE IF EXISTS bench_pg_members, bench_pg_raw; DROP SEQUENCE IF EXISTS bench_pg_raw_seq;"
              "CREATE TABLE bench_pg_members AS SELECT row_number() OVER (ORDER BY id) AS n, id FROM members "
              "WHERE status = 'active';"
              "CREATE UNIQUE INDEX ON bench_pg_members (n);"
              "CREATE TABLE bench_pg_raw (id BIGINT PRIMARY KEY, worker BIGINT NOT NULL, payload TEXT NOT NULL);"
              "CREATE SEQUENCE bench_pg_raw_seq;")
    members = int(psql(url, "SELECT count(*) FROM bench_pg_members"))
    try:
        raw_script, order_script = scripts(url, members, args.minimal)
        with tempfile.TemporaryDirectory() as folder:
            raw_path, order_path = os.path.join(folder, "raw.sql"), os.path.join(folder, "order.sql")
            with open(raw_path, "w") as f:
                f.write(raw_script)
            with open(order_path, "w") as f:
                f.write(order_script)
            print(f"{members} members, {args.clients} clients, {args.seconds} s per phase")
            for _ in range(args.rounds):
                raw = pgbench(url, raw_path, args.clients, args.seconds)
                order = pgbench(url, order_path, args.clients, args.seconds)
                print(f"raw {raw:.0f} tx/s, orders {order:.0f}/s, ratio {order / raw:.2f}")
    finally:
        psql(url, "DROP TABLE IF EXISTS bench_pg_members, bench_pg_raw; DROP SEQUENCE IF EXISTS bench_pg_raw_seq;")


if __name__ == "__main__":
    main()
