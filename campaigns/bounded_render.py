"""Rendering for the web process, where a limit can be enforced: previews, test sends and
the sample render at save run in a child process with a memory limit (RLIMIT_AS) and a wall
clock, never in the request's own process.

The children come from a fork server (multiprocessing's "forkserver") that has Django set up
already (campaigns.bounded_render_boot): a child starts in milliseconds, not the ~0.4 s of a
fresh interpreter, and shares nothing with the web process (no threads, no database
connections). Inside the child every message renders under its own budget
(template_language.RenderBudget), and once one goes over, the rest are not rendered: the
same rule as in the worker.
"""

import multiprocessing
import os
import resource
import time
from dataclasses import dataclass
from functools import lru_cache
from multiprocessing.connection import Connection

from django.conf import settings
from django.template import TemplateSyntaxError

from campaigns.exceptions import CampaignsError, MissingVariable, RenderBudgetExceeded
from campaigns.template_language import RenderBudget
from campaigns.templating import Content, RenderedContent, compile_content, render_content

BOOT_MODULE = "campaigns.bounded_render_boot"


class BoundedRenderError(CampaignsError):
    """The child failed in a way that is not the template's (or not a known kind)."""


@dataclass(frozen=True)
class Limits:
    seconds: float  # per message
    max_chars: int  # per message
    memory_mb: int  # beyond what the child starts with
    timeout: float  # the whole child, wall clock

    @classmethod
    def from_settings(cls) -> "Limits":
        return cls(
            seconds=settings.MAILHUB_RENDER_TIME_LIMIT,
            max_chars=settings.MAILHUB_RENDER_MAX_CHARS,
            memory_mb=settings.MAILHUB_PREVIEW_MEMORY_MB,
            timeout=settings.MAILHUB_PREVIEW_TIMEOUT,
        )


RenderOutcome = RenderedContent | Exception
# Exceptions the child may report, rebuilt by name in the parent; any other kind becomes a
# BoundedRenderError with its text.
_KNOWN = {
    cls.__name__: cls
    for cls in (MissingVariable, RenderBudgetExceeded, TemplateSyntaxError, ValueError)
}


def render_bounded(
    content: Content, contexts: list[dict], limits: Limits | None = None
) -> list[RenderOutcome]:
    """Render `content` once per context in a bounded child: a RenderedContent, or the
    exception that render raised, per context in order. Raises RenderBudgetExceeded when the
    child runs out of time or memory, TemplateSyntaxError when the content does not parse."""
    limits = limits or Limits.from_settings()
    ctx = _mp_context()
    receiver, sender = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_child, args=(sender, content, contexts, limits), daemon=True)
    child.start()
    sender.close()
    try:
        if not receiver.poll(limits.timeout):
            raise RenderBudgetExceeded(
                f"over the render budget: the render did not finish within {limits.timeout:g} s"
            )
        try:
            answer = receiver.recv()
        except EOFError:
            raise RenderBudgetExceeded(
                "over the render budget: the render process ended without an answer "
                f"(more than {limits.memory_mb} MiB of memory?)"
            ) from None
    finally:
        if child.is_alive():
            child.kill()
        child.join()
        receiver.close()
    kind, payload = answer
    if kind == "error":
        raise _rebuilt(payload)
    return [_rebuilt(item) if isinstance(item, tuple) else item for item in payload]


@lru_cache(maxsize=1)
def _mp_context() -> multiprocessing.context.BaseContext:
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([BOOT_MODULE])
    return ctx


def _rebuilt(error: tuple[str, str]) -> Exception:
    name, message = error
    return _KNOWN.get(name, BoundedRenderError)(message)


def _described(exc: BaseException) -> tuple[str, str]:
    return type(exc).__name__, str(exc)


def _child(sender: Connection, content: Content, contexts: list[dict], limits: Limits) -> None:
    _limit_memory(limits.memory_mb)
    try:
        sender.send(("ok", _render_all(content, contexts, limits)))
    except MemoryError:
        reason = f"over the render budget: it needed more than {limits.memory_mb} MiB of memory"
        sender.send(("error", ("RenderBudgetExceeded", reason)))
    except Exception as exc:  # compile errors: the same for every context
        sender.send(("error", _described(exc)))
    finally:
        sender.close()


def _render_all(content: Content, contexts: list[dict], limits: Limits) -> list:
    compiled = compile_content(content)
    # Finish before the parent stops waiting, so it gets an answer rather than a kill.
    not_after = time.monotonic() + limits.timeout * 0.8
    results: list = []
    over = ""
    for context in contexts:
        if over:
            results.append(("RenderBudgetExceeded", f"not rendered: {over}"))
            continue
        budget = RenderBudget.start(limits.seconds, limits.max_chars, not_after=not_after)
        try:
            results.append(render_content(compiled, context, budget))
        except RenderBudgetExceeded as exc:
            over = f"an earlier message went {exc}"
            results.append(_described(exc))
        except MemoryError:
            raise
        except Exception as exc:
            results.append(_described(exc))
        except BaseException as exc:
            # mjml-python reports a panic of its Rust code as a BaseException.
            if type(exc).__name__ != "PanicException":
                raise
            results.append(("ValueError", f"the MJML compiler failed ({exc})"))
    return results


def _limit_memory(extra_mb: int) -> None:
    """Address space: what the child has now (it starts as a copy of the fork server) plus
    `extra_mb`. Past it an allocation raises MemoryError instead of growing."""
    try:
        with open("/proc/self/statm") as statm:
            current = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # not Linux: fall back to the limit alone
        current = 0
    limit = current + extra_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
