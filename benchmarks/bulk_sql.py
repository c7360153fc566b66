"""What storing a batch's rendered content costs on PostgreSQL, by how the statement is sent.

    BENCH_DATABASE_URL=postgres://root@127.0.0.1:5432/bench_campaigns \\
        python benchmarks/bulk_sql.py [--rounds 50]

Writes subject, html and text (a realistic 6 KB body) to 100 queued messages in one
`UPDATE … FROM (VALUES …)`, the freeze step of every campaign batch: through Django's cursor
(psycopg's client-side binding, every value quoted into the SQL text) and through
`queueing.bulk_sql.update_rows` (a `RawCursor` with `$n` placeholders). Prints client CPU
and wall time per batch; the difference in wall time beyond the client's is the server's.
"""

import argparse
import time

from harness import free_port, prepare


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    prepare(sandbox_port=free_port())
    from campaign_seed import machine
    from django.core.management import call_command
    from django.db import connection

    from queueing.bulk_sql import update_rows
    from queueing.models import Message

    if connection.vendor != "postgresql":
        raise SystemExit("bulk_sql.py compares PostgreSQL drivers: set BENCH_DATABASE_URL.")
    call_command("migrate", verbosity=0, interactive=False)
    Message.objects.filter(subject__startswith="bulk-sql-bench").delete()
    Message.objects.bulk_create(
        Message(
            to=[f"p{i}@example.com"],
            subject=f"bulk-sql-bench {i}",
            from_email="news@example.com",
            idempotency_key=f"bulk-sql-bench-{i}",
        )
        for i in range(100)
    )
    ids = list(
        Message.objects.filter(subject__startswith="bulk-sql-bench").values_list("pk", flat=True)
    )
    body = "<table><tr><td>" + "Spring news for you, with a link. " * 170 + "</td></tr></table>"
    rows = {pk: (f"bulk-sql-bench {pk}", body + str(pk), body[:2000] + str(pk)) for pk in ids}

    def through_django_cursor() -> None:
        row_sql = "(%s, %s, %s, %s)"
        sql = (
            'UPDATE "queueing_message" SET "subject" = v.s, "html" = v.h, "text" = v.t '
            f"FROM (VALUES {', '.join([row_sql] * len(rows))}) AS v(pk, s, h, t) "
            'WHERE "queueing_message"."id" = CAST(v.pk AS bigint)'
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [p for pk, values in rows.items() for p in (pk, *values)])

    def through_update_rows() -> None:
        update_rows(Message, ("subject", "html", "text"), rows)

    print(f"machine                 {machine()}")
    for name, write in (
        ("Django cursor (client)", through_django_cursor),
        ("update_rows (native)", through_update_rows),
    ):
        write()
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(args.rounds):
            write()
        cpu = (time.process_time() - cpu) / args.rounds * 1000
        wall = (time.perf_counter() - wall) / args.rounds * 1000
        print(f"{name:<23} {cpu:6.2f} ms client CPU, {wall:6.2f} ms wall per batch of 100")
    Message.objects.filter(pk__in=ids).delete()

    # Loading a timestamptz: Django's loader (psycopg's Python parser) against the one
    # mailhub registers (mailhub/postgres_timestamps.py, psycopg's C parser).
    from django.db.backends.postgresql.psycopg_any import BaseTzLoader

    class DjangoLoader(BaseTzLoader):
        timezone = connection.timezone

    ours = connection.connection.adapters.get_loader(1184, 0)
    value = b"2026-11-28 17:16:38.123456+00"
    for name, loader in (("Django's", DjangoLoader), ("mailhub's", ours)):
        load = loader(1184, connection.connection).load
        started = time.perf_counter()
        for _ in range(100_000):
            load(value)
        us = (time.perf_counter() - started) * 10
        print(f"timestamptz, {name:<10} {us:6.1f} µs per value")


if __name__ == "__main__":
    main()
