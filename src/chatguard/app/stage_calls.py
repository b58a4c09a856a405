"""One of this role's stages run on a batch another role sends: the filter role's lightweight
filter, the llm-worker role's adjudicator. Scope: ingest (the caller is the api role with its
SERVICE_API_KEY). Per-user state (spam windows) lives in the role that runs the detectors."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence

from chatguard.app.access import INGEST, require
from chatguard.auth import Principal
from chatguard.domain import StageResult
from chatguard.errors import InputTooLargeError, StageUnavailableError, StoreUnavailableError
from chatguard.pipeline.stage import Stage, StageInput
from chatguard.service import ModerationService


class StageCalls:
    def __init__(self, *, service: ModerationService) -> None:
        self.service = service

    async def run(
        self,
        principal: Principal,
        stage_name: str,
        items: Sequence[StageInput],
        *,
        allowed: Collection[str],
    ) -> list[StageResult]:
        """The results of the stage `stage_name` (one of `allowed`, else 503) on `items`,
        which pass the limits and checks moderation applies."""
        require(principal, INGEST)
        stage = self._served(stage_name, allowed)
        limit = self.service.settings.max_batch_size
        if len(items) > limit:
            raise InputTooLargeError(f"batch of {len(items)} items; the limit is {limit}")
        for item in items:
            self.service.validate(item.message)
        await self._load_channel_terms({item.message.channel_id for item in items})
        try:
            async with asyncio.timeout(stage.timeout_s):
                return list(await stage.assess(items))
        except TimeoutError:
            raise StageUnavailableError(
                f"stage {stage.name} timed out after {stage.timeout_s:g}s"
            ) from None
        except Exception as exc:  # the caller records the stage as failed and goes on
            raise StageUnavailableError(
                f"stage {stage.name} failed: {type(exc).__name__}"
            ) from None

    async def _load_channel_terms(self, channel_ids: set[str]) -> None:
        """Load each channel's policy (cached for seconds) before its messages are judged:
        loading pushes the channel's blocked and permitted terms to this role's rule engine,
        and here no decision is planned that would load it."""
        engine = self.service.policy
        if engine is None:
            return
        for channel_id in channel_ids:
            try:
                await engine.policies.get(channel_id)
            except StoreUnavailableError:
                return  # the database is away: the terms as they stand

    def _served(self, name: str, allowed: Collection[str]) -> Stage:
        if name in allowed:
            for stage in self.service.pipeline.stages:
                if stage.name == name:
                    return stage
        raise StageUnavailableError(f"this role does not run the {name} stage")
