"""The template language of campaign templates: an allow-list of Django's tags and filters,
and a render budget (time and output size) that every render runs under.

Campaign templates are written by staff and rendered once per recipient in the worker, so
no tag or filter may make output (or work) grow by a number the author writes. Only the tags
and filters below exist for the campaign engine: anything else (`center`, `ljust`, `lorem`,
`debug`, `load`, `include`, `extends`, `url`…) fails to parse, with a message naming it, so it
is refused when the template is saved. Filters whose argument is a size are allowed only with
a small literal argument (BOUNDED_FILTERS).

`for` is the one tag that repeats work, so it is the place the budget is checked: after every
iteration the deadline and the output produced so far are checked (RenderBudget). Every
filter's output is checked too: a chain such as `urlencode|urlencode|…` triples a value at
each step. See docs/SECURITY.md ("Templates").
"""

import functools
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.template import (
    Engine,
    Library,
    Node,
    NodeList,
    TemplateSyntaxError,
    defaultfilters,
    defaulttags,
)
from django.template import Template as DjangoTemplate
from django.template.base import Lexer, Parser

from campaigns.exceptions import RenderBudgetExceeded

# What a newsletter needs. Each is Django's own tag or filter (see Django's reference).
ALLOWED_TAGS = (
    "autoescape", "comment", "cycle", "firstof", "for", "if", "ifchanged", "now",
    "resetcycle", "spaceless", "verbatim", "with",
)  # fmt: skip
ALLOWED_FILTERS = (
    "capfirst", "cut", "date", "default", "default_if_none", "divisibleby", "escape", "first",
    "floatformat", "join", "last", "length", "linebreaks", "linebreaksbr", "lower",
    "pluralize", "safe", "slice", "slugify", "striptags", "time", "timesince", "timeuntil",
    "title", "truncatechars", "truncatewords", "upper", "urlencode", "wordcount", "yesno",
)  # fmt: skip
# Filters whose argument is a number of digits, characters or words: only a literal within
# these bounds (a value from recipient data could be anything).
BOUNDED_FILTERS = {
    "floatformat": (-10, 10),
    "truncatechars": (0, 10_000),
    "truncatewords": (0, 1_000),
}
# Names Django uses only to close or divide a block: a stray one keeps Django's message.
_BLOCK_PARTS = re.compile(r"^(end\w*|else|elif|empty|plural)$")


class RefusedInTemplate(TemplateSyntaxError):
    """A tag or filter campaign templates may not use, or a bound argument out of range."""


# --- the render budget -------------------------------------------------------------------


@dataclass
class RenderBudget:
    """How long one render may take and how much it may produce (characters). `produced`
    counts what `for` loops have rendered so far; once over, every later check raises again
    (an `{% if %}` condition swallows exceptions, the budget does not forget)."""

    deadline: float  # time.monotonic()
    max_chars: int
    limit_seconds: float
    produced: int = 0
    exceeded: str = ""

    @classmethod
    def start(cls, seconds: float, max_chars: int, *, not_after: float | None = None):
        now = time.monotonic()
        deadline = now + seconds if not_after is None else min(now + seconds, not_after)
        return cls(deadline=deadline, max_chars=max_chars, limit_seconds=max(deadline - now, 0))

    def check(self, size: int = 0) -> None:
        if not self.exceeded:
            if size > self.max_chars or self.produced > self.max_chars:
                self.exceeded = f"its output is over {self.max_chars:,} characters"
            elif time.monotonic() > self.deadline:
                self.exceeded = f"it took longer than {self.limit_seconds:.3g} s"
        if self.exceeded:
            raise RenderBudgetExceeded(f"over the render budget: {self.exceeded}")


_budget: ContextVar[RenderBudget | None] = ContextVar("campaign_render_budget", default=None)


@contextmanager
def render_budget(budget: RenderBudget) -> Iterator[RenderBudget]:
    """Every campaign render in this block runs under `budget`; raises RenderBudgetExceeded
    at the end if a check inside was swallowed by a tag."""
    token = _budget.set(budget)
    try:
        yield budget
        budget.check()
    finally:
        _budget.reset(token)


def _check(size: int = 0) -> None:
    budget = _budget.get()
    if budget is not None:
        budget.check(size)


# --- the library: allowed tags and filters -----------------------------------------------

register = Library()


class _IterationGuard(Node):
    """The body of a `for` loop, rendered once per iteration: counts what the iteration
    produced and checks the budget. Nested loops count their own iterations as they go; the
    outer loop then replaces that count by its iteration's real size, so nothing is counted
    twice."""

    child_nodelists = ("nodelist",)

    def __init__(self, nodelist: NodeList):
        self.nodelist = nodelist

    def render(self, context) -> str:
        budget = _budget.get()
        before = budget.produced if budget else 0
        output = self.nodelist.render(context)
        if budget is not None:
            budget.produced = before + len(output)
            budget.check()
        return output


def _bounded_for(parser: Parser, token) -> Node:
    node = defaulttags.do_for(parser, token)
    node.nodelist_loop = NodeList([_IterationGuard(node.nodelist_loop)])
    return node


for _name in ALLOWED_TAGS:
    register.tag(_name, _bounded_for if _name == "for" else defaulttags.register.tags[_name])


def _checked(func: Callable) -> Callable:
    """A filter whose output is checked against the budget (its flags and signature kept:
    functools.wraps copies them, and Django reads the signature through __wrapped__)."""

    @functools.wraps(func)
    def filter_func(*args, **kwargs):
        value = func(*args, **kwargs)
        _check(len(value) if isinstance(value, str) else 0)
        return value

    return filter_func


def _size_of_join(value: object, separator: object) -> int:
    """What `join` would produce, in characters, without producing it: a separator the
    author repeats once per item can make it quadratic in the input."""
    try:
        items = list(value) if not isinstance(value, str) else value
    except TypeError:
        return 0
    if not items:
        return 0
    item_sizes = len(items) if isinstance(items, str) else sum(len(str(v)) for v in items)
    return item_sizes + len(str(separator)) * (len(items) - 1)


def _bounded_join(func: Callable) -> Callable:
    @functools.wraps(func)
    def join(value, arg, autoescape=True):
        _check(_size_of_join(value, arg))
        return func(value, arg, autoescape=autoescape)

    return join


for _name in ALLOWED_FILTERS:
    _filter = defaultfilters.register.filters[_name]
    if _name == "join":
        _filter = _bounded_join(_filter)
    register.filter(_name, _checked(_filter))


# --- parsing with the allow-list ---------------------------------------------------------


def _allowed(kind: str, names: tuple[str, ...]) -> str:
    return f"allowed {kind}: {', '.join(names)}"


class _CampaignParser(Parser):
    def find_filter(self, filter_name: str):
        if filter_name not in self.filters:
            raise RefusedInTemplate(
                f"The filter {filter_name!r} is not allowed in campaign templates "
                f"({_allowed('filters', ALLOWED_FILTERS)})."
            )
        return self.filters[filter_name]

    def invalid_block_tag(self, token, command, parse_until=None):
        if _BLOCK_PARTS.match(command):
            return super().invalid_block_tag(token, command, parse_until)
        raise self.error(
            token,
            RefusedInTemplate(
                f"The tag {command!r} is not allowed in campaign templates "
                f"({_allowed('tags', ALLOWED_TAGS)})."
            ),
        )

    def compile_filter(self, token):
        expression = super().compile_filter(token)
        for func, args in expression.filters:
            name = func._filter_name
            if name in BOUNDED_FILTERS:
                _check_bound(name, args)
        return expression


def _check_bound(name: str, args: list) -> None:
    """`args` as Django's FilterExpression keeps them: [(is a Variable, value)]; a number
    written bare is a Variable whose `literal` is the number, a quoted one a string."""
    low, high = BOUNDED_FILTERS[name]
    if not args:
        return
    is_variable, value = args[0]
    literal = value.literal if is_variable else value
    # floatformat's argument may end in "g" or "u" ("2g"): the number is what comes first.
    number = re.match(r"^-?\d+", str(literal)) if literal is not None else None
    if number is None or not low <= int(number.group()) <= high:
        raise RefusedInTemplate(
            f"The filter {name!r} takes a literal number from {low} to {high} in campaign "
            f"templates, not {value}."
        )


class _CampaignTemplate(DjangoTemplate):
    def compile_nodelist(self) -> NodeList:
        parser = _CampaignParser(
            Lexer(self.source).tokenize(),
            self.engine.template_libraries,
            self.engine.template_builtins,
            self.origin,
        )
        nodelist = parser.parse()
        self.extra_data = parser.extra_data
        return nodelist


class CampaignEngine(Engine):
    """Django's engine with only this module's library as builtins, no loaders and no
    libraries to load: a template cannot include files or load tag libraries."""

    default_builtins = ["campaigns.template_language"]

    def __init__(self, **kwargs):
        super().__init__(debug=False, libraries={}, builtins=[], **kwargs)

    def from_string(self, template_code: str) -> DjangoTemplate:
        return _CampaignTemplate(template_code, engine=self)
