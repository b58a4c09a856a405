"""The shipped semantic artifact, loaded once for the package's tests."""

from __future__ import annotations

import pytest

from chatguard.semantic.artifact import DEFAULT_ARTIFACT, SemanticArtifact
from chatguard.semantic.encoder import SentenceEncoder
from chatguard.semantic.heads import SemanticHeads


@pytest.fixture(scope="session")
def artifact() -> SemanticArtifact:
    return SemanticArtifact.load(DEFAULT_ARTIFACT)


@pytest.fixture(scope="session")
def encoder(artifact: SemanticArtifact) -> SentenceEncoder:
    return SentenceEncoder.from_artifact(artifact, threads=1)


@pytest.fixture(scope="session")
def heads(artifact: SemanticArtifact) -> SemanticHeads:
    return SemanticHeads.load(artifact)
