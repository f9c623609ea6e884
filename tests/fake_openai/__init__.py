"""A stateful, in-process OpenAI-compatible server for the platform tests."""
from tests.fake_openai.server import Fault, FakeOpenAI

__all__ = ["FakeOpenAI", "Fault"]
