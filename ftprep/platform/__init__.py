"""The bridge to fine-tuning APIs (OpenAI, Azure OpenAI, any OpenAI-compatible base URL)."""
