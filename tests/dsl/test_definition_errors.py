"""Every definition-time mistake raises ``DefinitionError`` whose first line names the
culprit, followed by ``Incorrect:`` / ``Correct:`` lines. Messages are API: each
test pins the type, ``code``, ``subject`` and every line."""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterator

import pytest

from hive_core import DefinitionError, HiveError, NodeInput, Schema, channel
from hive_dsl import Branch, Chain, FanOut, Join, NodeDef, Workflow

Check = Callable[..., None]


class S(Schema):
    flag = channel(bool)


@pytest.fixture
def wf() -> Workflow:
    return Workflow(S)


@pytest.fixture
def plan(wf: Workflow) -> NodeDef[..., None]:
    @wf.node(start=True)
    def plan(ctx: NodeInput) -> None:
        return None

    return plan


@pytest.fixture
def write(wf: Workflow) -> NodeDef[..., None]:
    @wf.node
    def write(ctx: NodeInput) -> None:
        return None

    return write


@pytest.fixture
def check() -> Iterator[Check]:
    """``check(excinfo, subject, *lines)``: exact type, code, subject and message."""

    def run(
        info: pytest.ExceptionInfo[DefinitionError], subject: str, *lines: str
    ) -> None:
        exc = info.value
        assert type(exc) is DefinitionError
        assert isinstance(exc, HiveError)
        assert isinstance(exc, TypeError)
        assert exc.code == "definition-error"
        assert exc.subject == subject
        assert str(exc).split("\n") == list(lines)
        assert lines[1] == ""
        assert lines[2].startswith("Incorrect: ")
        assert any(line.startswith("Correct:   ") for line in lines[3:])
        clone = pickle.loads(pickle.dumps(exc))
        assert (type(clone), str(clone), clone.subject) == (
            type(exc),
            str(exc),
            subject,
        )

    yield run


class TestBuilders:
    def test_branch_without_default(
        self,
        wf: Workflow,
        plan: NodeDef[..., None],
        write: NodeDef[..., None],
        check: Check,
    ) -> None:
        with pytest.raises(DefinitionError) as info, Branch(wf, after=plan) as b:
            b.case("yes", when=lambda v: v.get(S.flag), then=write)
        check(
            info,
            "plan",
            "Branch(wf, after=plan) has no default",
            "",
            "Incorrect: with Branch(wf, after=plan) as b:",
            '               b.case("yes", when=..., then=accept)',
            "Correct:   with Branch(wf, after=plan) as b:",
            '               b.case("yes", when=..., then=accept)',
            "               b.default(then=reject)",
        )
        # the workflow cannot compile with the broken branch either
        with pytest.raises(DefinitionError, match="has no default"):
            wf.compile()

    def test_empty_chain(
        self, wf: Workflow, plan: NodeDef[..., None], check: Check
    ) -> None:
        with pytest.raises(DefinitionError) as info, Chain(wf):
            pass
        check(
            info,
            "Chain(wf)",
            "Chain(wf) has no start node; a chain needs at least two nodes",
            "",
            "Incorrect: with Chain(wf) as c: pass",
            "Correct:   with Chain(wf, plan) as c: c.then(write)",
        )

    def test_chain_of_one_node(
        self, wf: Workflow, plan: NodeDef[..., None], check: Check
    ) -> None:
        with pytest.raises(DefinitionError) as info, Chain(wf, plan):
            pass
        check(
            info,
            "Chain(wf, plan)",
            "Chain(wf, plan) has a start node but nothing after it; a chain needs at "
            "least two nodes",
            "",
            "Incorrect: with Chain(wf, plan) as c: pass",
            "Correct:   with Chain(wf, plan) as c: c.then(write)",
        )

    def test_fan_out_without_targets(
        self, wf: Workflow, plan: NodeDef[..., None], check: Check
    ) -> None:
        lines = (
            "FanOut from `plan` has no targets",
            "",
            "Incorrect: FanOut(wf, plan, [])",
            "Correct:   FanOut(wf, plan, [left, right], join_to=merge)",
        )
        with pytest.raises(DefinitionError) as info:
            FanOut(wf, plan, [])
        check(info, "plan", *lines)
        with pytest.raises(DefinitionError) as info, FanOut(wf, plan):
            pass
        check(info, "plan", *lines)

    def test_builder_reused(
        self,
        wf: Workflow,
        plan: NodeDef[..., None],
        write: NodeDef[..., None],
        check: Check,
    ) -> None:
        chain = Chain(wf, plan, write)
        with chain:
            pass
        with pytest.raises(DefinitionError) as info, chain:
            pass  # pragma: no cover
        check(
            info,
            "Chain(wf, plan, write)",
            "Chain(wf, plan, write) was already used; a builder is single-use",
            "",
            "Incorrect: b = Chain(wf, plan, write); with b: ...; with b: ...",
            "Correct:   with Chain(wf, plan, write) as b: ...  # a new builder per block",
        )

    def test_builder_closed_out_of_order(
        self,
        wf: Workflow,
        plan: NodeDef[..., None],
        write: NodeDef[..., None],
        check: Check,
    ) -> None:
        outer = Chain(wf, plan, write)
        inner = Branch(wf, after=write)
        outer.__enter__()
        inner.__enter__()
        with pytest.raises(DefinitionError) as info:
            outer.__exit__(None, None, None)
        check(
            info,
            "Chain(wf, plan, write)",
            "Chain(wf, plan, write) was closed out of order: Branch(wf, after=write) is "
            "still open inside it",
            "",
            "Incorrect: a.__enter__(); b.__enter__(); a.__exit__(...)",
            "Correct:   with a:",
            "               with b: ...",
        )
        inner.default(then=plan)
        inner.__exit__(None, None, None)
        outer.__exit__(None, None, None)

    def test_outer_builder_used_inside_an_inner_one(
        self,
        wf: Workflow,
        plan: NodeDef[..., None],
        write: NodeDef[..., None],
        check: Check,
    ) -> None:
        with Branch(wf, after=plan) as outer:
            with Chain(wf, plan, write), pytest.raises(DefinitionError) as info:
                outer.default(then=write)
            outer.default(then=write)
        check(
            info,
            "Branch(wf, after=plan)",
            "Branch(wf, after=plan).default() was called while Chain(wf, plan, write) is "
            "open inside it",
            "",
            "Incorrect: with Branch(wf, after=plan) as outer:",
            "               with Chain(wf, plan, write):",
            "                   outer.default(...)",
            "Correct:   with Branch(wf, after=plan) as outer:",
            "               outer.default(...)",
        )

    def test_builder_method_outside_its_block(
        self,
        wf: Workflow,
        plan: NodeDef[..., None],
        write: NodeDef[..., None],
        check: Check,
    ) -> None:
        branch = Branch(wf, after=plan)
        with pytest.raises(DefinitionError) as info:
            branch.case("x", when=lambda v: True, then=write)
        check(
            info,
            "Branch(wf, after=plan)",
            "Branch(wf, after=plan).case() was called outside a `with` block",
            "",
            "Incorrect: b = Branch(wf, after=plan); b.case(...)",
            "Correct:   with Branch(wf, after=plan) as b:",
            "               b.case(...)",
        )

    def test_builder_method_after_its_block(
        self,
        wf: Workflow,
        plan: NodeDef[..., None],
        write: NodeDef[..., None],
        check: Check,
    ) -> None:
        with Chain(wf, plan) as chain:
            chain.then(write)
        with pytest.raises(DefinitionError) as info:
            chain.then(plan)
        check(
            info,
            "Chain(wf, plan, write)",
            "Chain(wf, plan, write).then() was called after its `with` block closed",
            "",
            "Incorrect: with Chain(wf, plan, write) as b: ...",
            "           b.then(...)",
            "Correct:   with Chain(wf, plan, write) as b:",
            "               b.then(...)",
        )

    @pytest.mark.parametrize("kind", ["branch", "chain", "fanout"])
    def test_builder_never_entered(
        self, kind: str, wf: Workflow, plan: NodeDef[..., None], check: Check
    ) -> None:
        what = {
            "branch": "Branch(wf, after=plan)",
            "chain": "Chain(wf)",
            "fanout": "FanOut(wf, plan)",
        }[kind]
        if kind == "branch":
            Branch(wf, after=plan)
        elif kind == "chain":
            Chain(wf)
        else:
            FanOut(wf, plan)
        with pytest.raises(DefinitionError) as info:
            wf.compile()
        check(
            info,
            what,
            f"{what} was created but never used in a `with` block",
            "",
            f"Incorrect: b = {what}",
            f"Correct:   with {what} as b: ...",
        )

    def test_compile_inside_an_open_builder(
        self, wf: Workflow, plan: NodeDef[..., None], check: Check
    ) -> None:
        with Branch(wf, after=plan) as b:
            with pytest.raises(DefinitionError) as info:
                wf.compile()
            b.default(then=plan)
        check(
            info,
            "Branch(wf, after=plan)",
            "Branch(wf, after=plan) is still open: compile the workflow after its `with` "
            "block ends",
            "",
            "Incorrect: with Branch(wf, after=plan) as b:",
            "               wf.compile()",
            "Correct:   with Branch(wf, after=plan) as b: ...",
            "           wf.compile()",
        )

    def test_branch_case_after_default(
        self,
        wf: Workflow,
        plan: NodeDef[..., None],
        write: NodeDef[..., None],
        check: Check,
    ) -> None:
        with Branch(wf, after=plan) as b:
            b.default(then=write)
            with pytest.raises(DefinitionError) as info:
                b.case("late", when=lambda v: True, then=write)
        check(
            info,
            "late",
            "Branch(wf, after=plan) got case `late` after its default; the default must "
            "come last",
            "",
            'Incorrect: b.default(then=x); b.case("late", when=..., then=y)',
            'Correct:   b.case("late", when=..., then=y); b.default(then=x)',
        )

    def test_branch_duplicate_case_and_default(
        self,
        wf: Workflow,
        plan: NodeDef[..., None],
        write: NodeDef[..., None],
        check: Check,
    ) -> None:
        with Branch(wf, after=plan) as b:
            b.case("x", when=lambda v: True, then=write)
            with pytest.raises(DefinitionError) as dup:
                b.case("x", when=lambda v: True, then=write)
            with pytest.raises(DefinitionError) as bad_when:
                b.case("y", when=True, then=write)  # type: ignore[arg-type]
            b.default(then=write)
            with pytest.raises(DefinitionError) as twice:
                b.default(then=plan)
        check(
            dup,
            "x",
            "Branch(wf, after=plan) has two cases named `x`",
            "",
            'Incorrect: b.case("x", ...); b.case("x", ...)',
            'Correct:   b.case("x", ...); b.case("x_2", ...)',
        )
        check(
            bad_when,
            "y",
            "Branch(wf, after=plan) case `y`: when= must be a function of the store view",
            "",
            'Incorrect: b.case("y", when=True, then=...)',
            'Correct:   b.case("y", when=lambda view: view.get(S.flag), then=...)',
        )
        check(
            twice,
            "Branch(wf, after=plan)",
            "Branch(wf, after=plan) has two defaults",
            "",
            "Incorrect: b.default(then=x); b.default(then=y)",
            "Correct:   b.default(then=x)",
        )

    def test_join_without_parents(
        self, wf: Workflow, write: NodeDef[..., None], check: Check
    ) -> None:
        with pytest.raises(DefinitionError) as info:
            Join(wf, [], write)
        check(
            info,
            "write",
            "Join into `write` has no parents (a list is needed)",
            "",
            "Incorrect: Join(wf, [], write)",
            "Correct:   Join(wf, [left, right], write)",
        )


class TestReferences:
    def test_unknown_name_with_a_close_match(
        self,
        wf: Workflow,
        plan: NodeDef[..., None],
        write: NodeDef[..., None],
        check: Check,
    ) -> None:
        wf.edge(plan, "wirte")
        with pytest.raises(DefinitionError) as info:
            wf.compile()
        check(
            info,
            "wirte",
            "Node `wirte` is referenced but never defined in workflow `S`; did you mean "
            "`write`?",
            "",
            "Incorrect: wf.edge(plan, 'wirte')",
            "Correct:   wf.edge(plan, 'write')",
        )

    def test_unknown_name_without_a_match(
        self, wf: Workflow, plan: NodeDef[..., None], check: Check
    ) -> None:
        wf.edge("publish", plan)
        with pytest.raises(DefinitionError) as info:
            wf.compile()
        check(
            info,
            "publish",
            "Node `publish` is referenced but never defined in workflow `S`",
            "",
            "Incorrect: wf.edge('publish', plan)",
            "Correct:   @wf.node",
            "           def publish(ctx: NodeInput) -> Effects: ...",
        )

    @pytest.mark.parametrize(
        ("declare", "incorrect", "correct"),
        [
            (
                lambda wf, p, w: Join(wf, [p, "wrte"], w),
                "Join(wf, [plan, 'wrte'], write)",
                "Join(wf, [plan, 'write'], write)",
            ),
            (
                lambda wf, p, w: Chain(wf, p, "wrte"),
                "Chain(wf, plan, 'wrte')",
                "Chain(wf, plan, 'write')",
            ),
            (
                lambda wf, p, w: FanOut(wf, p, ["wrte"]),
                "FanOut(wf, plan, ['wrte'])",
                "FanOut(wf, plan, ['write'])",
            ),
            (
                lambda wf, p, w: FanOut(wf, p, [w], join_to="wrte"),
                "FanOut(wf, plan, [write], join_to='wrte')",
                "FanOut(wf, plan, [write], join_to='write')",
            ),
        ],
        ids=["join", "chain", "fanout", "fanout-join"],
    )
    def test_unknown_name_in_each_declaration(
        self,
        declare: Callable[..., object],
        incorrect: str,
        correct: str,
        wf: Workflow,
        plan: NodeDef[..., None],
        write: NodeDef[..., None],
        check: Check,
    ) -> None:
        declare(wf, plan, write)
        with pytest.raises(DefinitionError) as info:
            wf.compile()
        check(
            info,
            "wrte",
            "Node `wrte` is referenced but never defined in workflow `S`; did you mean "
            "`write`?",
            "",
            f"Incorrect: {incorrect}",
            f"Correct:   {correct}",
        )

    def test_unknown_name_in_a_branch(
        self,
        wf: Workflow,
        plan: NodeDef[..., None],
        write: NodeDef[..., None],
        check: Check,
    ) -> None:
        with Branch(wf, after="plna") as b:
            b.case("x", when=lambda v: True, then=[write, "wrte"])
            b.default(then=write)
        with pytest.raises(DefinitionError) as info:
            wf.compile()
        check(
            info,
            "plna",
            "Node `plna` is referenced but never defined in workflow `S`; did you mean "
            "`plan`?",
            "",
            "Incorrect: Branch(wf, after='plna')",
            "Correct:   Branch(wf, after='plan')",
        )

    def test_node_of_another_workflow(
        self, wf: Workflow, plan: NodeDef[..., None], check: Check
    ) -> None:
        other = Workflow(S, name="other")
        with pytest.raises(DefinitionError) as info:
            other.edge(plan, "x")
        check(
            info,
            "plan",
            "Node `plan` belongs to workflow `S`, not `other`",
            "",
            "Incorrect: other_wf.edge(plan, ...)  # defined on another workflow",
            "Correct:   wrap the other workflow with Subgraph(...) as one node",
        )

    def test_plain_function_as_reference(self, wf: Workflow, check: Check) -> None:
        def helper(ctx: NodeInput) -> None:
            return None

        with pytest.raises(DefinitionError) as info:
            wf.edge(helper, "x")  # type: ignore[arg-type]
        assert str(info.value).startswith(
            "Expected a node of workflow `S` or a node id"
        )

    def test_no_start_node(
        self, wf: Workflow, write: NodeDef[..., None], check: Check
    ) -> None:
        with pytest.raises(DefinitionError) as info:
            wf.compile()
        check(
            info,
            "S",
            "Workflow `S` has no start node",
            "",
            "Incorrect: @wf.node",
            "           def first(ctx: NodeInput) -> Effects: ...",
            "Correct:   @wf.node(start=True)",
            "           def first(ctx: NodeInput) -> Effects: ...",
        )


class TestNodes:
    @pytest.mark.parametrize("char", ["+", ":"])
    def test_reserved_character_in_node_id(
        self, wf: Workflow, char: str, check: Check
    ) -> None:
        def step(ctx: NodeInput) -> None:
            return None

        with pytest.raises(DefinitionError) as info:
            wf.node(step, node_id=f"a{char}b")
        check(
            info,
            f"a{char}b",
            f"Node id `a{char}b` contains `{char}`, which join ids reserve",
            "",
            f'Incorrect: @wf.node(node_id="a{char}b")',
            'Correct:   @wf.node(node_id="a_b")',
        )

    def test_empty_node_id(self, wf: Workflow, check: Check) -> None:
        with pytest.raises(DefinitionError) as info:
            wf.node(lambda ctx: None, node_id="")
        check(
            info,
            "",
            "Node id `` is empty",
            "",
            'Incorrect: @wf.node(node_id="")',
            'Correct:   @wf.node(node_id="step")',
        )

    def test_function_without_parameters(self, wf: Workflow, check: Check) -> None:
        with pytest.raises(DefinitionError) as info:

            @wf.node
            def greet() -> None:
                return None

        check(
            info,
            "greet",
            "Node function `greet` cannot take a node input: it has no parameters",
            "",
            "Incorrect: def greet(): ...",
            "Correct:   def greet(ctx: NodeInput) -> Effects: ...",
        )

    def test_function_with_two_required_parameters(
        self, wf: Workflow, check: Check
    ) -> None:
        with pytest.raises(DefinitionError) as info:

            @wf.node(node_id="greeter")
            def greet(ctx: NodeInput, extra: int) -> None:
                return None

        check(
            info,
            "greeter",
            "Node function `greet` cannot take a node input: it has 2 required "
            "parameters (`ctx`, `extra`)",
            "",
            "Incorrect: def greet(ctx, extra): ...",
            "Correct:   def greet(ctx: NodeInput) -> Effects: ...",
        )

    def test_function_with_required_keyword_only_parameter(
        self, wf: Workflow, check: Check
    ) -> None:
        def greet(ctx: NodeInput, *, loud: bool) -> None:
            return None

        with pytest.raises(DefinitionError) as info:
            wf.node(greet)
        check(
            info,
            "greet",
            "Node function `greet` cannot take a node input: its keyword-only parameter "
            "`loud` has no default",
            "",
            "Incorrect: def greet(ctx, *, loud): ...",
            "Correct:   def greet(ctx: NodeInput) -> Effects: ...",
        )

    def test_only_keyword_parameters(self, wf: Workflow) -> None:
        def greet(*, ctx: NodeInput) -> None:
            return None

        with pytest.raises(DefinitionError, match="it has no positional parameter"):
            wf.node(greet)

    def test_optional_extras_and_varargs_are_accepted(self, wf: Workflow) -> None:
        def a(ctx: NodeInput, extra: int = 1, *, flag: bool = False) -> None:
            return None

        def b(*args: NodeInput) -> None:
            return None

        assert [wf.node(a).id, wf.node(b).id] == ["a", "b"]
        assert wf.node(len, node_id="builtin").id == "builtin"  # type: ignore[type-var]

    def test_duplicate_explicit_node_id(
        self, wf: Workflow, plan: NodeDef[..., None], check: Check
    ) -> None:
        with pytest.raises(DefinitionError) as info:
            wf.node(lambda ctx: None, node_id="plan")
        check(
            info,
            "plan",
            "Node id `plan` is already used in workflow `S`",
            "",
            'Incorrect: @wf.node(node_id="plan")  # a second time',
            'Correct:   @wf.node(node_id="plan_2")',
        )

    def test_decorating_a_node_twice(
        self, wf: Workflow, plan: NodeDef[..., None], check: Check
    ) -> None:
        with pytest.raises(DefinitionError) as info:
            wf.node(plan)
        check(
            info,
            "plan",
            "`plan` is already a node of workflow `S`; decorate the plain function instead",
            "",
            "Incorrect: wf.node(plan)",
            "Correct:   wf.node(plan.fn, node_id=...)",
        )

    def test_not_callable(self, wf: Workflow, check: Check) -> None:
        with pytest.raises(DefinitionError) as info:
            wf.node(42)  # type: ignore[call-overload]
        check(
            info,
            "42",
            "A node must be a function taking a node input, got int",
            "",
            "Incorrect: wf.node(42)",
            "Correct:   @wf.node",
            "           def step(ctx: NodeInput) -> Effects: ...",
        )

    def test_blocking_async_node(self, wf: Workflow, check: Check) -> None:
        with pytest.raises(DefinitionError) as info:

            @wf.node(blocking=True)
            async def fetch(ctx: NodeInput) -> None:
                return None

        check(
            info,
            "fetch",
            "Node `fetch` is async; blocking=True is only for sync functions",
            "",
            "Incorrect: @wf.node(blocking=True)",
            "           async def fetch(ctx): ...",
            "Correct:   @wf.node",
            "           async def fetch(ctx): ...",
        )
