"""How many transactional messages per second one worker sends through the sandbox.

    python benchmarks/transactional_send.py [--messages 2000]

No rate limit, sandbox validation on, one `rqworker` process (forking a job process per
message, as in production). Uses var/bench.sqlite3 (or BENCH_DATABASE_URL) and Redis db 13
(or BENCH_REDIS_URL); nothing else is touched.
"""

import argparse
import resource
import time

from harness import free_port, prepare, reset_state, sandbox_process, start_worker


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    args = parser.parse_args()

    port = free_port()
    prepare(sandbox_port=port)
    from queueing.models import Message, MessageStatus
    from queueing.services import message_create
    from sandbox import SandboxControl

    with sandbox_process(port) as url:
        reset_state()
        started = time.perf_counter()
        for i in range(args.messages):
            message_create(
                to=[f"user{i}@example.com"], subject=f"Your code is {i:06d}", text="Hello"
            )
        accept_seconds = time.perf_counter() - started

        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        worker = start_worker("--burst")
        worker.wait()
        send_seconds = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)

        sent = Message.objects.filter(status=MessageStatus.SENT).count()
        accepted = SandboxControl(url).stats()["accepted_emails"]

    print(f"messages                     {args.messages}")
    print(f"accepted by mailhub          {args.messages / accept_seconds:8.0f} msg/s (one process)")
    print(f"sent by one worker           {sent / send_seconds:8.1f} msg/s ({send_seconds:.1f} s)")
    print(f"worker CPU per 1,000 emails  {1000 * cpu / max(sent, 1):8.2f} s")
    print(f"sandbox accepted             {accepted} (sent rows: {sent})")
    if accepted != args.messages or sent != args.messages:
        raise SystemExit("not every message was sent exactly once")


if __name__ == "__main__":
    main()
