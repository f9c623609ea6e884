"""A stateful, in-process OpenAI-compatible server for the platform and eval tests."""
from tests.fake_openai.server import (
    ChatModel,
    FakeOpenAI,
    Fault,
    echo_reply,
    last_user_text,
    reference_reply,
    tool_call_reply,
)

__all__ = ["ChatModel", "FakeOpenAI", "Fault", "echo_reply", "last_user_text",
           "reference_reply", "tool_call_reply"]
