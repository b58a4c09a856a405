import pkgutil

import pytest

import chatguard.stages
from chatguard.config import load_settings
from chatguard.errors import UnknownStageError
from chatguard.pipeline.registry import build_stage, registered_stages
from chatguard.pipeline.stage import Stage


def test_every_registered_stage_builds_from_settings() -> None:
    settings = load_settings(_env_file=None, llm_endpoint="http://127.0.0.1:9/v1")
    for name in registered_stages():
        stage = build_stage(name, settings)
        assert isinstance(stage, Stage)
        assert stage.name == name


def test_every_stage_module_in_the_stages_package_is_registered() -> None:
    settings = load_settings(_env_file=None, llm_endpoint="http://127.0.0.1:9/v1")
    built_from = {type(build_stage(n, settings)).__module__ for n in registered_stages()}
    for module in pkgutil.iter_modules(chatguard.stages.__path__):
        assert f"chatguard.stages.{module.name}" in built_from, module.name


def test_the_default_pipeline_uses_only_registered_stages() -> None:
    settings = load_settings(_env_file=None, llm_endpoint="http://127.0.0.1:9/v1")
    assert set(settings.stage_names) <= set(registered_stages())


def test_unknown_stage_names_the_known_ones() -> None:
    settings = load_settings(_env_file=None)
    with pytest.raises(UnknownStageError, match=r"known stages: .*rules"):
        build_stage("telepathy", settings)
