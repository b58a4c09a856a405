"""The lightweight filter: evasion-proof normalization, term rules, PII, spam and
prompt-injection detectors that decide most messages in microseconds, without a model."""
