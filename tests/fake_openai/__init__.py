"""A stateful, in-process OpenAI-compatible server for the platform tests."""
from tests.fake_openai.server import FakeOpenAI, Fault

__all__ = ["FakeOpenAI", "Fault"]
