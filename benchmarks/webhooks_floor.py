"""What a webhook costs, against its floors: the same signed events posted at four WSGI apps,
each served by gunicorn as benchmarks/webhooks.py serves mailhub (2 workers, gthread, 4
threads, or each of --threads in turn), one after the other, for --rounds rounds:

- `hello`: a bare WSGI app that reads the body and answers (gunicorn's own cost);
- `floor`: a bare WSGI app doing the Svix check, the JSON parse and the INSERT … ON CONFLICT
  (benchmarks/webhooks_floor_app.py): the least any door can do;
- `door`: mailhub as served (`mailhub.wsgi:application`, the webhook door of
  mailhub/webhook_door.py);
- `django`: mailhub's view through Django's whole stack (`mailhub.wsgi:django_application`),
  as every webhook was served before the door.

    python benchmarks/webhooks_floor.py [--events 10000] [--rounds 2]
    python benchmarks/webhooks_floor.py --only door --threads 1 2 4 8   # gthread's threads

No RQ worker runs: the events just wait (Redis is on; the door asks for processing there).
Per app: gunicorn workers' CPU ms per request (robust to a shared machine), PostgreSQL
backends' CPU ms per request, and requests/s (which is not, on a shared machine). Database:
BENCH_DATABASE_URL, default postgres://root@127.0.0.1:5432/bench_webhooks; Redis:
BENCH_REDIS_URL, default database 13.
"""

import argparse
import asyncio
import os
import statistics
import sys

from api_send import database_backends_cpu, gunicorn, worker_pids
from harness import free_port, prepare, reset_state
from webhooks import DEFAULT_DATABASE, Signer, closed_loop, event_bodies, process_cpu

APPS = {
    "hello": ("webhooks_floor_app:hello", "bare WSGI, body read, 200 (gunicorn's own cost)"),
    "floor": ("webhooks_floor_app:verify_insert", "bare WSGI: Svix HMAC + JSON + INSERT"),
    "door": ("mailhub.wsgi:application", "mailhub's webhook door"),
    "django": ("mailhub.wsgi:django_application", "mailhub's view through Django's stack"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description="The webhook door against its floors")
    parser.add_argument("--events", type=int, default=10_000, help="per app and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--only", nargs="*", choices=list(APPS), default=list(APPS))
    parser.add_argument(
        "--threads", nargs="*", type=int, default=[4], help="gthread threads (each in turn)"
    )
    args = parser.parse_args()

    from queueing.resend.webhook_signing import new_secret

    secret = new_secret()
    os.environ["RESEND_WEBHOOK_SECRETS"] = secret
    os.environ.setdefault("BENCH_DATABASE_URL", DEFAULT_DATABASE)
    prepare(sandbox_port=free_port())
    reset_state()
    from django.db import connection

    runs = [(name, threads) for name in args.only for threads in args.threads]
    total = (args.events + 100) * args.rounds * len(runs)
    signer = Signer(secret, event_bodies(total, [("re_floor", "", "a@example.com")]))
    results: dict[tuple[str, int], list[tuple[float, float, float]]] = {run: [] for run in runs}
    load = os.getloadavg()[0]
    for round_ in range(args.rounds):
        for name, threads in runs:
            app, _ = APPS[name]
            server_args = argparse.Namespace(workers=2, worker_class="gthread", threads=threads)
            with gunicorn(f"webhooks-{name}", app, "mailhub.settings", "", server_args) as server:
                port = int(server.url.rsplit(":", 1)[1])
                asyncio.run(closed_loop(port, signer, 100, args.concurrency))  # warm-up
                pids = worker_pids(server.process.pid)
                cpu, database = process_cpu(pids), database_backends_cpu()
                answers = asyncio.run(closed_loop(port, signer, args.events, args.concurrency))
                cpu = process_cpu(pids) - cpu
                database = sum(
                    used - database.get(pid, 0.0) for pid, used in database_backends_cpu().items()
                )
            connection.close()
            if answers.ok != args.events:
                raise SystemExit(f"{name}: {answers.statuses} {answers.first_refusal}")
            per = 1000 / answers.ok
            results[name, threads].append((cpu * per, database * per, answers.ok / answers.seconds))
            print(
                f"round {round_ + 1} {name} ({threads} threads): {cpu * per:.3f} ms gunicorn CPU, "
                f"{answers.ok / answers.seconds:,.0f}/s",
                file=sys.stderr,
                flush=True,
            )
    print(f"{args.events:,} signed webhooks per app and round, {args.rounds} rounds, ")
    print(f"gunicorn 2 x gthread, {args.concurrency} connections; load average before {load:.2f}")
    print(
        f"{'app':8} {'threads':>7} {'gunicorn CPU ms/req':>20} {'PostgreSQL ms/req':>18} "
        f"{'req/s':>8}  what"
    )
    for name, threads in runs:
        rows = results[name, threads]
        cpu, database, rate = (statistics.median(r[i] for r in rows) for i in range(3))
        print(f"{name:8} {threads:7} {cpu:20.3f} {database:18.3f} {rate:8,.0f}  {APPS[name][1]}")


if __name__ == "__main__":
    main()
