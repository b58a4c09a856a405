"""The official `openai` SDK against a live chatguard server."""

from __future__ import annotations

import openai

from tests.conftest import LiveServer


def test_openai_sdk_parses_moderation_results(live_server: LiveServer) -> None:
    client = openai.OpenAI(base_url=f"{live_server.url}/v1", api_key="unused")
    result = client.moderations.create(input=["kill yourself", "have a nice stream"])
    assert len(result.results) == 2
    toxic, clean = result.results
    assert toxic.flagged is True
    assert toxic.categories.harassment_threatening is True
    assert toxic.category_scores.harassment_threatening >= 0.9
    assert clean.flagged is False
    assert clean.category_scores.hate < 0.5
    assert clean.category_scores.self_harm < 0.5
    assert clean.categories.sexual_minors is False
    assert result.model.startswith("chatguard")


def test_openai_sdk_single_string_input(live_server: LiveServer) -> None:
    client = openai.OpenAI(base_url=f"{live_server.url}/v1", api_key="unused")
    result = client.moderations.create(input="hello chat")
    assert [r.flagged for r in result.results] == [False]


def test_openai_sdk_error_is_a_bad_request(live_server: LiveServer) -> None:
    client = openai.OpenAI(base_url=f"{live_server.url}/v1", api_key="unused", max_retries=0)
    try:
        client.moderations.create(input=[])
    except openai.UnprocessableEntityError as exc:
        assert "at least 1 item" in str(exc)
    else:
        raise AssertionError("an empty input was accepted")
