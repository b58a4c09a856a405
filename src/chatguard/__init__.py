"""chatguard: real-time moderation for streaming chat."""

__version__ = "0.1.0"
