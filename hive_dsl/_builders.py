"""Declarations that connect nodes: ``Edge``, ``Join``, ``Chain``, ``FanOut``, ``Branch``.

Each is created against a ``Workflow`` and recorded in it at once, in order; the
workflow replays them into a ``GraphBuilder`` when it compiles. ``Chain``, ``FanOut``
and ``Branch`` are also single-use ``with`` builders:

```python
Chain(wf, plan, write, review)              # plain call: edges plan->write->review

with Branch(wf, after=review) as b:         # a router: first true case wins
    b.case("ok", when=lambda v: v.get(S.score) >= 7, then=publish)
    b.default(then=plan)
```

A node reference is the ``@wf.node`` object itself or its id as a string; strings
are checked when the workflow compiles.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Protocol, Self, TypeAlias, final

from hive_core import DefinitionError, GraphBuilder, Next, StoreView

from ._effects import NodeRef, ref_source
from ._scope import Scoped, State


class _Workflow(Protocol):
    """What a builder needs of the workflow it is declared in (``Workflow`` is the
    one). A protocol, so builders do not import the workflow that creates them."""

    def _declare(self, decl: _Declaration) -> None: ...
    def _check_ref(self, ref: NodeRef) -> None: ...
    def _resolve(self, ref: NodeRef, usage: Callable[[str], str]) -> str: ...


class _Declaration(Protocol):
    def check(self) -> None: ...
    def lower(self, g: GraphBuilder) -> None: ...


__all__ = ["Branch", "Chain", "Edge", "FanOut", "Join", "Target"]

Target: TypeAlias = NodeRef | Sequence[NodeRef] | Next
"""Where a branch goes: one node, several (run in order), ``END`` or ``GRAPH_EDGES``."""

_Route = tuple[str, ...] | Next


def _refs(refs: Sequence[NodeRef]) -> str:
    return ", ".join(ref_source(r) for r in refs)


def _unfinished(what: str, state: State) -> DefinitionError:
    if state is State.OPEN:
        return DefinitionError(
            f"{what} is still open: compile the workflow after its `with` block "
            "ends\n\n"
            f"Incorrect: with {what} as b:\n"
            "               wf.compile()\n"
            f"Correct:   with {what} as b: ...\n"
            "           wf.compile()",
            subject=what,
        )
    return DefinitionError(
        f"{what} was created but never used in a `with` block\n\n"
        f"Incorrect: b = {what}\n"
        f"Correct:   with {what} as b: ...",
        subject=what,
    )


@final
class Edge:
    """A static edge ``source -> target`` (``wf.edge(source, target)`` does the same)."""

    __slots__ = ("_wf", "source", "target")

    def __init__(self, wf: _Workflow, source: NodeRef, target: NodeRef) -> None:
        wf._check_ref(source)
        wf._check_ref(target)
        self._wf = wf
        self.source = source
        self.target = target
        wf._declare(self)

    def check(self) -> None:
        return None

    def lower(self, g: GraphBuilder) -> None:
        src, dst = self.source, self.target
        g.add_edge(
            self._wf._resolve(src, lambda r: f"wf.edge({r}, {ref_source(dst)})"),
            self._wf._resolve(dst, lambda r: f"wf.edge({ref_source(src)}, {r})"),
        )


@final
class Join:
    """Run ``target`` once every parent has run, in any steps (a join barrier)."""

    __slots__ = ("_wf", "parents", "target")

    def __init__(
        self, wf: _Workflow, parents: Sequence[NodeRef], target: NodeRef
    ) -> None:
        if isinstance(parents, str) or not parents:
            raise DefinitionError(
                f"Join into `{ref_source(target)}` has no parents (a list is needed)\n\n"
                f"Incorrect: Join(wf, [], {ref_source(target)})\n"
                f"Correct:   Join(wf, [left, right], {ref_source(target)})",
                subject=ref_source(target),
            )
        for p in parents:
            wf._check_ref(p)
        wf._check_ref(target)
        self._wf = wf
        self.parents = tuple(parents)
        self.target = target
        wf._declare(self)

    def check(self) -> None:
        return None

    def lower(self, g: GraphBuilder) -> None:
        parents, target = self.parents, self.target

        def usage(i: int) -> Callable[[str], str]:
            def render(r: str) -> str:
                shown = [ref_source(p) for p in parents] + [ref_source(target)]
                shown[i] = r
                return f"Join(wf, [{', '.join(shown[:-1])}], {shown[-1]})"

            return render

        ids = [self._wf._resolve(p, usage(i)) for i, p in enumerate(parents)]
        g.add_join_edge(ids, self._wf._resolve(target, usage(len(parents))))


@final
class Chain(Scoped):
    """Edges along a sequence of nodes: ``Chain(wf, a, b, c)`` adds ``a->b->c``.

    Also a single-use ``with`` builder whose ``then()`` extends the chain:

    ```python
    with Chain(wf, plan) as c:
        c.then(write).then(review)
    ```
    """

    __slots__ = ("_nodes", "_wf")

    _kind = "Chain"

    def __init__(self, wf: _Workflow, *nodes: NodeRef) -> None:
        super().__init__()
        for n in nodes:
            wf._check_ref(n)
        self._wf = wf
        self._nodes: list[NodeRef] = list(nodes)
        wf._declare(self)

    def describe(self) -> str:
        return f"Chain(wf, {_refs(self._nodes)})" if self._nodes else "Chain(wf)"

    @property
    def nodes(self) -> tuple[NodeRef, ...]:
        return tuple(self._nodes)

    def then(self, node: NodeRef) -> Self:
        """Append ``node``: an edge from the current last node to it."""
        self._require_open("then")
        self._wf._check_ref(node)
        self._nodes.append(node)
        return self

    def _problem(self) -> DefinitionError | None:
        n = len(self._nodes)
        if n >= 2:
            return None
        what = self.describe()
        why = "has no start node" if n == 0 else "has a start node but nothing after it"
        return DefinitionError(
            f"{what} {why}; a chain needs at least two nodes\n\n"
            f"Incorrect: with {what} as c: pass\n"
            "Correct:   with Chain(wf, plan) as c: c.then(write)",
            subject=what,
        )

    def _finish(self) -> None:
        err = self._problem()
        if err is not None:
            raise err

    def check(self) -> None:
        if self._state is State.OPEN or (self._state is State.NEW and not self._nodes):
            raise _unfinished(self.describe(), self._state)
        self._finish()

    def lower(self, g: GraphBuilder) -> None:
        nodes = self._nodes
        for i, (a, b) in enumerate(itertools.pairwise(nodes)):

            def usage(j: int) -> Callable[[str], str]:
                def render(r: str) -> str:
                    shown = [ref_source(n) for n in nodes]
                    shown[j] = r
                    return f"Chain(wf, {', '.join(shown)})"

                return render

            g.add_edge(
                self._wf._resolve(a, usage(i)), self._wf._resolve(b, usage(i + 1))
            )


@final
class FanOut(Scoped):
    """Edges from ``source`` to every target, and optionally a join of all targets
    into ``join_to``.

    ``FanOut(wf, plan, [left, right], join_to=merge)`` is complete as a call; in a
    ``with`` block, ``to()`` adds targets (and the join waits for all of them).
    """

    __slots__ = ("_join_to", "_source", "_targets", "_wf")

    _kind = "FanOut"

    def __init__(
        self,
        wf: _Workflow,
        source: NodeRef,
        targets: Sequence[NodeRef] | None = None,
        *,
        join_to: NodeRef | None = None,
    ) -> None:
        super().__init__()
        wf._check_ref(source)
        if join_to is not None:
            wf._check_ref(join_to)
        self._wf = wf
        self._source = source
        self._join_to = join_to
        self._targets: list[NodeRef] = []
        if targets is not None:
            if isinstance(targets, str) or not targets:
                raise self._no_targets()
            for t in targets:
                wf._check_ref(t)
            self._targets = list(targets)
        wf._declare(self)

    def describe(self) -> str:
        return f"FanOut(wf, {ref_source(self._source)})"

    @property
    def targets(self) -> tuple[NodeRef, ...]:
        return tuple(self._targets)

    def to(self, *targets: NodeRef) -> Self:
        """Add targets, in order."""
        self._require_open("to")
        for t in targets:
            self._wf._check_ref(t)
        self._targets += targets
        return self

    def _no_targets(self) -> DefinitionError:
        src = ref_source(self._source)
        return DefinitionError(
            f"FanOut from `{src}` has no targets\n\n"
            f"Incorrect: FanOut(wf, {src}, [])\n"
            f"Correct:   FanOut(wf, {src}, [left, right], join_to=merge)",
            subject=src,
        )

    def _finish(self) -> None:
        if not self._targets:
            raise self._no_targets()

    def check(self) -> None:
        if self._state is State.OPEN or (
            self._state is State.NEW and not self._targets
        ):
            raise _unfinished(self.describe(), self._state)
        self._finish()

    def lower(self, g: GraphBuilder) -> None:
        wf, src, targets = self._wf, self._source, self._targets
        shown = f"[{_refs(targets)}]"
        source_id = wf._resolve(src, lambda r: f"FanOut(wf, {r}, {shown})")
        ids = []
        for i, t in enumerate(targets):

            def render(r: str, i: int = i) -> str:
                parts = [ref_source(x) for x in targets]
                parts[i] = r
                return f"FanOut(wf, {ref_source(src)}, [{', '.join(parts)}])"

            ids.append(wf._resolve(t, render))
        for tid in ids:
            g.add_edge(source_id, tid)
        join_to = self._join_to
        if join_to is not None:
            target = wf._resolve(
                join_to,
                lambda r: f"FanOut(wf, {ref_source(src)}, {shown}, join_to={r})",
            )
            g.add_join_edge(ids, target)


@final
class Branch(Scoped):
    """A router after a node: cases are tried in order, the first whose ``when``
    holds on the fresh-read view wins, else ``default``. A default is required.

    ```python
    with Branch(wf, after=classify) as b:
        b.case("urgent", when=lambda view: view.get(S.urgent), then=escalate)
        b.default(then=respond)
    ```
    """

    __slots__ = ("_after", "_cases", "_default", "_wf")

    _kind = "Branch"

    def __init__(self, wf: _Workflow, *, after: NodeRef) -> None:
        super().__init__()
        wf._check_ref(after)
        self._wf = wf
        self._after = after
        self._cases: list[tuple[str, Callable[[StoreView], object], Target]] = []
        self._default: tuple[Target] | None = None
        wf._declare(self)

    def describe(self) -> str:
        return f"Branch(wf, after={ref_source(self._after)})"

    @property
    def case_names(self) -> tuple[str, ...]:
        return tuple(name for name, _, _ in self._cases)

    def _check_target(self, then: Target) -> None:
        if isinstance(then, Next):
            return
        if isinstance(then, str) or not isinstance(then, Sequence):
            self._wf._check_ref(then)
            return
        for t in then:
            self._wf._check_ref(t)

    def case(
        self, name: str, *, when: Callable[[StoreView], object], then: Target
    ) -> Self:
        """Go to ``then`` if ``when(view)`` is true and no earlier case was."""
        self._require_open("case")
        what = self.describe()
        if self._default is not None:
            raise DefinitionError(
                f"{what} got case `{name}` after its default; the default must come "
                "last\n\n"
                f'Incorrect: b.default(then=x); b.case("{name}", when=..., then=y)\n'
                f'Correct:   b.case("{name}", when=..., then=y); b.default(then=x)',
                subject=name,
            )
        if name in self.case_names:
            raise DefinitionError(
                f"{what} has two cases named `{name}`\n\n"
                f'Incorrect: b.case("{name}", ...); b.case("{name}", ...)\n'
                f'Correct:   b.case("{name}", ...); b.case("{name}_2", ...)',
                subject=name,
            )
        if not callable(when):
            raise DefinitionError(
                f"{what} case `{name}`: when= must be a function of the store view\n\n"
                f'Incorrect: b.case("{name}", when=True, then=...)\n'
                f'Correct:   b.case("{name}", when=lambda view: view.get(S.flag), then=...)',
                subject=name,
            )
        self._check_target(then)
        self._cases.append((name, when, then))
        return self

    def default(self, *, then: Target) -> Self:
        """Where to go when no case holds (required, exactly once, last)."""
        self._require_open("default")
        if self._default is not None:
            what = self.describe()
            raise DefinitionError(
                f"{what} has two defaults\n\n"
                "Incorrect: b.default(then=x); b.default(then=y)\n"
                "Correct:   b.default(then=x)",
                subject=what,
            )
        self._check_target(then)
        self._default = (then,)
        return self

    def _missing_default(self) -> DefinitionError:
        what = self.describe()
        return DefinitionError(
            f"{what} has no default\n\n"
            f"Incorrect: with {what} as b:\n"
            '               b.case("yes", when=..., then=accept)\n'
            f"Correct:   with {what} as b:\n"
            '               b.case("yes", when=..., then=accept)\n'
            "               b.default(then=reject)",
            subject=ref_source(self._after),
        )

    def _finish(self) -> None:
        if self._default is None:
            raise self._missing_default()

    def check(self) -> None:
        if self._state is not State.CLOSED:
            raise _unfinished(self.describe(), self._state)
        self._finish()

    def _route(self, then: Target, usage: Callable[[str], str]) -> _Route:
        if isinstance(then, Next):
            return then
        if isinstance(then, str) or not isinstance(then, Sequence):
            return (self._wf._resolve(then, usage),)
        refs = list(then)

        def render_at(i: int) -> Callable[[str], str]:
            def render(r: str) -> str:
                shown = [ref_source(t) for t in refs]
                shown[i] = r
                return usage(f"[{', '.join(shown)}]")

            return render

        return tuple(self._wf._resolve(t, render_at(i)) for i, t in enumerate(refs))

    def lower(self, g: GraphBuilder) -> None:
        wf = self._wf
        after = wf._resolve(self._after, lambda r: f"Branch(wf, after={r})")

        def case_usage(name: str) -> Callable[[str], str]:
            return lambda r: f'b.case("{name}", when=..., then={r})'

        cases = tuple(
            (when, self._route(then, case_usage(name)))
            for name, when, then in self._cases
        )
        if self._default is None:  # pragma: no cover - check() ran first
            raise self._missing_default()
        default = self._route(self._default[0], lambda r: f"b.default(then={r})")

        def route(view: StoreView) -> _Route:
            for when, target in cases:
                if when(view):
                    return target
            return default

        route.__name__ = route.__qualname__ = f"branch_after_{after}"
        g.add_router(after, route)
