"""Worker CPU per email when every email goes alone (a request and a job process each).

    python benchmarks/lone_sends.py [--messages 150]

The case where per-request costs (such as the metrics' round trip and log line) weigh most:
one message is accepted, the test waits until it is sent, then the next, so each is its own
drain job and provider request. One `rqworker` process; its CPU (job processes included) is
read when it has stopped, and a run with no message gives the worker's start-up cost, which
is taken off. Uses the same resources as the other benchmarks (benchmarks/harness.py).
"""

import argparse
import resource
import signal
import time

from harness import free_port, prepare, reset_state, sandbox_process, start_worker


def worker_cpu(messages: int) -> tuple[float, int]:
    from queueing.models import Message, MessageStatus
    from queueing.services import message_create

    reset_state()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    worker = start_worker()
    time.sleep(3)  # started and listening
    sent = 0
    for i in range(messages):
        message = message_create(to=[f"lone{i}@example.com"], subject=f"Code {i}", text="Hi")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if Message.objects.filter(pk=message.pk, status=MessageStatus.SENT).exists():
                sent += 1
                break
            time.sleep(0.005)
    worker.send_signal(signal.SIGTERM)
    worker.wait(timeout=30)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=150)
    args = parser.parse_args()
    port = free_port()
    prepare(sandbox_port=port)
    with sandbox_process(port):
        idle, _ = worker_cpu(0)
        busy, sent = worker_cpu(args.messages)
    print(f"worker start-up and idle CPU   {idle:8.2f} s")
    print(f"worker CPU per email sent alone {1000 * (busy - idle) / max(sent, 1):8.2f} ms")
    print(f"sent                           {sent} of {args.messages}")
    if sent != args.messages:
        raise SystemExit("not every message was sent")


if __name__ == "__main__":
    main()
