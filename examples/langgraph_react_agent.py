"""LangGraph pattern 1, the ReAct agent (``create_react_agent``), in Hive.

The prebuilt ``tool_calling_agent`` loops model -> tools -> model until the model
answers. ``tool_errors="return"`` is LangGraph's ``handle_tool_errors``: the first
call names a city the tool does not know, the tool raises, and the model sees the
error as the call's tool message, retries with a real city and answers. The model
is a ``ScriptedModelClient`` (offline, deterministic); swap in any ``ModelClient``,
e.g. ``OpenAICompatClient`` or ``LangChainModelClient``. See
``docs/coming-from-langgraph.md``. Run it with
``python examples/langgraph_react_agent.py``.
"""

from __future__ import annotations

from hive_core import CompiledGraph, Environment, Outcome, Runtime
from hive_core.models import ChatMessage, ScriptedModelClient, ToolCall, ToolRegistry
from hive_core.testing import SequentialIds
from hive_dsl import AgentState, tool_calling_agent

QUESTION = "What is the weather in Atlantis, or else in Paris?"
WEATHER = {"paris": "sunny, 21 C", "oslo": "snow, -3 C"}


def get_weather(city: str) -> str:
    """The current weather in a city."""
    if city.lower() not in WEATHER:
        raise LookupError(f"no weather station in {city}")
    return WEATHER[city.lower()]


def weather_call(call_id: str, city: str) -> ChatMessage:
    call = ToolCall(
        id=call_id, name="get_weather", arguments_json=f'{{"city":"{city}"}}'
    )
    return ChatMessage.assistant(f"reply-{call_id}", "", (call,))


def scripted_model() -> ScriptedModelClient:
    """What a real model would do: try, read the error, try again, answer."""
    return ScriptedModelClient(
        [
            weather_call("c1", "Atlantis"),
            weather_call("c2", "Paris"),
            "Atlantis has no weather station; in Paris it is sunny, 21 C.",
        ]
    )


def build() -> CompiledGraph:
    return tool_calling_agent(
        model="scripted",
        tools=ToolRegistry([get_weather]),
        system_prompt="Answer weather questions with the get_weather tool.",
        mode="complete",
        tool_errors="return",
    )


def run(client: ScriptedModelClient) -> Outcome:
    runtime = Runtime(
        build(), environment=Environment(model=client), ids=SequentialIds()
    )
    return runtime.run_sync("weather-1", QUESTION)


def main() -> None:
    client = scripted_model()
    outcome = run(client)
    for message in outcome.get(AgentState.messages):
        text = message.content or ", ".join(
            f"{c.name}({c.arguments_json})" for c in message.tool_calls
        )
        print(f"{message.role:>9}: {text.splitlines()[0] if text else ''}")
    print("answer:", outcome.get(AgentState.final_answer))
    print("model calls:", len(client.requests))


if __name__ == "__main__":
    main()
