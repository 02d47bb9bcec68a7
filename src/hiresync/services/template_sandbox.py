"""The bounded sandbox that organization-edited templates render in.

Jinja2's ``ImmutableSandboxedEnvironment`` stops a template from reaching what it should
not (private attributes, mutation); it does not stop one from costing too much. An
admin could save ``{{ "x" * 10**9 }}``, ``{{ 9**9**9 }}``, two nested loops over
``range(100000)``, a string doubled forty times in a loop, or a macro that calls itself
twice, and hang or exhaust the worker that renders it. Kept apart from
``services.invitations`` (what the e-mails say) because it is about what rendering may
cost, whatever the template is for.

``BoundedSandbox`` puts a price on everything a template can do, and ``render`` gives
each rendering a budget (``_Budget``, held in a context variable for the one render):

* every value a template builds (with an operator, a filter, a call, ``~``, a list or
  dict literal, a slice) may hold at most ``MAX_VALUE`` characters or items, counted
  deep; whole numbers at most ``MAX_NUMBER_BITS`` bits;
* what can only be checked once computed is first estimated: ``"x" * n`` and ``a ** b``
  before they are computed, a filter or call from the size of what it is given (its
  subject times its arguments, a number counting as a width), a format string from its
  widths and fields; an estimate over ``MAX_WORK`` is refused unrun;
* loop turns and calls together at most ``MAX_STEPS``; the characters and items built or
  written anywhere (in the output, a ``{% set %}`` block, a macro) at most ``MAX_WORK``;
  the output at most ``MAX_OUTPUT`` characters; and, as a backstop for anything the
  counts miss, at most ``MAX_SECONDS`` of wall time, checked at each of those steps.

Loops, output, ``~``, slices and literals are counted by ``_BoundedCodeGenerator``,
which wraps them in calls to this environment when a template is compiled; operators by
Jinja's ``intercepted_binops``; filters by wrapping the environment's filter table (so
also when Jinja would fold a constant expression at compile time: nothing is evaluated
without a budget, so the expression is left to run time); calls and recursive loops by
``call``. A template over a bound raises ``TooCostly`` (a Jinja ``SecurityError``) naming
the bound, from the template line that crossed it.
"""

from __future__ import annotations

import functools
import re
import string
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from jinja2 import Template, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.runtime import Context, LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from jinja2.utils import Namespace

# An invitation is a few kilobytes; a saved template is at most 100,000 characters
# (``services.email_templates.MAX_SOURCE``), so any saveable template filled with the
# longest values (a 10,000-character message) fits in MAX_OUTPUT.
MAX_OUTPUT = 200_000
MAX_VALUE = 100_000  # characters or items in one value, counted deep
MAX_NUMBER_BITS = 4_096  # about 1,200 digits: no e-mail needs bigger numbers
MAX_STEPS = 50_000  # loop turns and calls together; a message has at most 10,000 lines
MAX_WORK = 10_000_000  # characters and items built or written in one render
MAX_SECONDS = 1.0  # a real e-mail renders in milliseconds


class TooCostly(SecurityError):
    """A template that would cost more than a bound allows."""


@dataclass
class _Budget:
    deadline: float
    steps: int = 0
    work: int = 0
    output: int = 0


_BUDGET: ContextVar[_Budget | None] = ContextVar("template_budget", default=None)


def _spend(steps: int = 0, work: int = 0, output: int = 0) -> None:
    """Charge the current render. Nothing is evaluated without a budget: when Jinja tries
    to fold a constant expression at compile time, this refusal makes it leave the
    expression to run time, where it is charged."""
    budget = _BUDGET.get()
    if budget is None:
        raise RuntimeError("Templates of a BoundedSandbox render with template_sandbox.render.")
    budget.steps += steps
    budget.work += work
    budget.output += output
    if budget.output > MAX_OUTPUT:
        raise TooCostly(f"the template produces more than {MAX_OUTPUT:,} characters.")
    if budget.steps > MAX_STEPS:
        raise TooCostly(f"the template's loops and calls run more than {MAX_STEPS:,} times.")
    if budget.work > MAX_WORK:
        raise TooCostly(
            f"the template builds more than {MAX_WORK:,} characters in all while rendering."
        )
    if time.monotonic() > budget.deadline:
        raise TooCostly(f"the template takes more than {MAX_SECONDS:g} s to render.")


def _weight(value: Any, cap: int = MAX_VALUE) -> int:
    """Characters and items in ``value``, counted deep (a list of ten copies of a string
    weighs ten strings), stopping once over ``cap`` or past ``MAX_VALUE`` objects (a
    namespace may hold itself); the visit is charged as work."""
    total, visits, stack = 0, 0, [value]
    while stack and total <= cap:
        if visits > MAX_VALUE:
            total = cap + 1
            break
        item = stack.pop()
        visits += 1
        if isinstance(item, str | bytes | range):
            total += len(item)
        elif isinstance(item, int):
            total += item.bit_length() // 3 + 1
        elif isinstance(item, Namespace):
            stack.append(item._Namespace__attrs)  # type: ignore[attr-defined]
        elif isinstance(item, Mapping):
            total += len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            total += len(item)
            stack.extend(item)
        else:
            total += 1
    _spend(work=visits)
    return total


def _checked(value: Any) -> Any:
    """``value``, refused when it is over ``MAX_VALUE`` or ``MAX_NUMBER_BITS``."""
    if isinstance(value, int) and value.bit_length() > MAX_NUMBER_BITS:
        raise TooCostly(f"the template makes a number of more than {MAX_NUMBER_BITS:,} bits.")
    weight = _weight(value)
    if weight > MAX_VALUE:
        raise TooCostly(
            f"the template makes a value of more than {MAX_VALUE:,} characters or items."
        )
    _spend(work=weight)
    return value


def _refuse_over(estimate: int, what: str) -> None:
    if estimate > MAX_WORK:
        raise TooCostly(f"{what} could make more than {MAX_WORK:,} characters; it is not run.")


def _as_argument(value: Any) -> int:
    """How much an argument can make a result grow: a number as a width or a count."""
    if isinstance(value, int) and not isinstance(value, bool):
        return abs(value)
    return _weight(value, MAX_WORK)


def _materialized(value: Any) -> Any:
    """A one-shot iterator (a filter's generator) as a list, so its size can be known."""
    if not isinstance(value, Iterator) or isinstance(value, LoopContext):
        return value
    items = []
    for item in value:
        items.append(item)
        if len(items) > MAX_VALUE:
            raise TooCostly(f"the template makes a sequence of more than {MAX_VALUE:,} items.")
    _spend(work=len(items))
    return items


# -- formatting ----------------------------------------------------------------------------

# A printf conversion: its key, flags, width and precision (``%%`` is not one).
_PRINTF = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d*))?[hlL]?([a-zA-Z%])")
_FORMATTER = string.Formatter()


def _format_estimate(fmt: str, largest_argument: int, printf: bool) -> int:
    """At most how long ``fmt`` formats to: its text, its widths, and each field the
    largest argument (``{0}{0}{0}`` uses one argument three times)."""
    fields, widths = 0, 0
    if printf:
        for width, precision, kind in _PRINTF.findall(fmt):
            if "*" in (width, precision):
                raise TooCostly("the template formats with a '*' width, which is not allowed.")
            if kind != "%":
                fields += 1
                widths += int(width or 0) + int(precision or 0)
    else:
        for _, name, spec, _ in _FORMATTER.parse(fmt):
            if name is None:
                continue
            if "{" in (spec or ""):
                raise TooCostly("the template formats with a nested width, which is not allowed.")
            fields += 1
            widths += sum(int(n) for n in re.findall(r"\d+", spec or ""))
    return len(fmt) + widths + fields * (largest_argument + 1)


def _largest(values: Iterable[Any]) -> int:
    return max((_weight(v, MAX_WORK) for v in values), default=0)


def _check_printf(fmt: str, args: Any) -> None:
    if isinstance(args, Mapping):
        values = list(args.values())
    else:
        values = list(args) if isinstance(args, tuple) else [args]
    _refuse_over(_format_estimate(fmt, _largest(values), printf=True), "Formatting with %")


# -- the environment -----------------------------------------------------------------------


class _BoundedCodeGenerator(CodeGenerator):
    """Jinja's code generator, with what a template writes, loops over, joins with ``~``
    and builds as a literal passed through ``environment``'s counters."""

    _top_level = False

    def visit_Output(self, node: nodes.Output, frame: Frame) -> None:
        self._top_level = frame.buffer is None  # output, or a {% set %} block / macro
        super().visit_Output(node, frame)

    def _counter(self) -> str:
        return "environment.emitted(" if self._top_level else "environment.written("

    def _output_const_repr(self, group: Iterable[Any]) -> str:
        return self._counter() + super()._output_const_repr(group) + ")"

    def _output_child_pre(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        self.write(self._counter())
        super()._output_child_pre(node, frame, finalize)

    def _output_child_post(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        super()._output_child_post(node, frame, finalize)
        self.write(")")

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        counted = nodes.Call(
            nodes.EnvironmentAttribute("turns"), [node.iter], [], None, None, lineno=node.lineno
        )
        node = nodes.For(
            node.target,
            counted,
            node.body,
            node.else_,
            node.test,
            node.recursive,
            lineno=node.lineno,
            environment=self.environment,
        )
        super().visit_For(node, frame)

    def _checked_visit(self, visit: Callable[[Any, Frame], None], node: Any, frame: Frame) -> None:
        self.write("environment.built(")
        visit(node, frame)
        self.write(")")

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self._checked_visit(super().visit_Concat, node, frame)

    def visit_List(self, node: nodes.List, frame: Frame) -> None:
        self._checked_visit(super().visit_List, node, frame)

    def visit_Dict(self, node: nodes.Dict, frame: Frame) -> None:
        self._checked_visit(super().visit_Dict, node, frame)

    def visit_Getitem(self, node: nodes.Getitem, frame: Frame) -> None:
        if isinstance(node.arg, nodes.Slice):  # a slice is a copy (and skips ``getitem``)
            self._checked_visit(super().visit_Getitem, node, frame)
        else:
            super().visit_Getitem(node, frame)

    def visit_Tuple(self, node: nodes.Tuple, frame: Frame) -> None:
        if node.ctx != "load":  # an assignment's target, not a value
            super().visit_Tuple(node, frame)
        else:
            self._checked_visit(super().visit_Tuple, node, frame)


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, with every way a template can spend time or memory counted
    (see the module docstring). ``lipsum`` is left out: it writes pages of text."""

    code_generator_class = _BoundedCodeGenerator
    intercepted_binops = frozenset(["+", "-", "*", "/", "//", "%", "**"])

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.globals.pop("lipsum", None)
        self.filters = {name: self._bounded_filter(name, f) for name, f in self.filters.items()}

    # -- what compiled templates call ------------------------------------------------------

    def emitted(self, text: str) -> str:
        _spend(work=len(text), output=len(text))
        return text

    def written(self, text: str) -> str:
        _spend(work=len(text))
        return text

    def built(self, value: Any) -> Any:
        return _checked(value)

    def turns(self, iterable: Any) -> Iterator[Any]:
        """A loop's iterable, each turn charged as a step."""
        for item in iterable:
            _spend(steps=1)
            yield item

    # -- operators, calls, filters ---------------------------------------------------------

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            _check_product(left, right)
        elif operator == "**":
            _check_power(left, right)
        elif operator == "%" and isinstance(left, str):
            _check_printf(left, right)
        return _checked(self.binop_table[operator](left, right))

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(__obj, "__func__", None) is BoundedSandbox.turns:
            return __self.turns(*args)
        _spend(steps=1)
        if isinstance(__obj, LoopContext) and args:  # a recursive loop's next level
            args = (__self.turns(args[0]), *args[1:])
        else:
            args = tuple(_materialized(a) for a in args)
            kwargs = {k: _materialized(v) for k, v in kwargs.items()}
            _check_call(__obj, args, kwargs)
        return _checked(super().call(__context, __obj, *args, **kwargs))

    def _bounded_filter(self, name: str, func: Callable[..., Any]) -> Callable[..., Any]:
        # Filters marked pass_context / pass_environment get that first, then the value.
        lead = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0

        @functools.wraps(func)
        def bounded(*args: Any, **kwargs: Any) -> Any:
            _spend(steps=1)
            passed, (value, *rest) = args[:lead], (_materialized(a) for a in args[lead:])
            if name == "sum":
                _check_sum(rest, kwargs)
            if name == "format" and isinstance(value, str):
                _check_printf(value, tuple(rest) or kwargs)
            else:
                estimate = (1 + _weight(value, MAX_WORK)) * (
                    1 + sum(_as_argument(a) for a in (*rest, *kwargs.values()))
                )
                _refuse_over(estimate, f"The filter {name!r}")
            return _checked(func(*passed, value, *rest, **kwargs))

        return bounded


def _check_product(left: Any, right: Any) -> None:
    if isinstance(left, int) and isinstance(right, int):
        if left.bit_length() + right.bit_length() > MAX_NUMBER_BITS:
            raise TooCostly(f"the template makes a number of more than {MAX_NUMBER_BITS:,} bits.")
        return
    count, repeated = (right, left) if isinstance(right, int) else (left, right)
    if isinstance(count, int) and count > 0 and _weight(repeated) * count > MAX_VALUE:
        raise TooCostly(
            f"the template makes a value of more than {MAX_VALUE:,} characters or items."
        )


def _check_power(base: Any, exponent: Any) -> None:
    if (
        isinstance(base, int)
        and isinstance(exponent, int)
        and abs(base) > 1
        and abs(base).bit_length() * exponent > MAX_NUMBER_BITS  # about its bits, or more
    ):
        raise TooCostly(f"the template makes a number of more than {MAX_NUMBER_BITS:,} bits.")


def _check_sum(rest: list[Any], kwargs: dict[str, Any]) -> None:
    """``sum`` adds numbers; adding lists or strings one by one takes quadratic time."""
    start = kwargs.get("start", rest[1] if len(rest) > 1 else 0)
    if not isinstance(start, int | float):
        raise TooCostly("the filter 'sum' adds numbers only.")


def _check_call(obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Refuse, before it runs, a call that could make a result too big: its subject (a
    method's string or list) times what it is given; a format string by its fields."""
    target = getattr(obj, "__wrapped__", obj)  # the sandbox wraps str.format
    subject = getattr(target, "__self__", None)
    name = getattr(target, "__name__", "")
    if isinstance(subject, str) and name in ("format", "format_map"):
        values = [*args, *kwargs.values()]
        if name == "format_map" and args and isinstance(args[0], Mapping):
            values = list(args[0].values())
        _refuse_over(_format_estimate(subject, _largest(values), printf=False), "Formatting")
        return
    given = 1 + sum(_as_argument(a) for a in (*args, *kwargs.values()))
    weight = 0 if subject is None else _weight(subject, MAX_WORK)
    _refuse_over((1 + weight) * given, f"Calling {name or 'a function'}")


def render(template: Template, variables: Mapping[str, Any]) -> str:
    """``template`` (compiled by a ``BoundedSandbox``) rendered within the bounds; the
    output is streamed, so rendering stops at the first chunk past ``MAX_OUTPUT``."""
    token = _BUDGET.set(_Budget(deadline=time.monotonic() + MAX_SECONDS))
    try:
        chunks, size = [], 0
        stream = template.generate(variables)
        try:
            for chunk in stream:
                size += len(chunk)
                if size > MAX_OUTPUT:
                    raise TooCostly(f"the template produces more than {MAX_OUTPUT:,} characters.")
                chunks.append(chunk)
        finally:
            stream.close()
        return "".join(chunks)
    finally:
        _BUDGET.reset(token)
