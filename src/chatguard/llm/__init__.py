"""LLM adjudication through an OpenAI-compatible endpoint: client (retries, breaker, limits),
prompts, answer parsing, micro-batching, verdict cache and the `llm` stage."""
