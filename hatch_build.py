"""Build hook: compiles `chatguard.filter._speedups`, the generic text and counting kernels of
the lightweight filter (they know no message fields, window keys or filter rules: see
`chatguard.filter.speedups`). Nothing depends on it: without a C compiler (or with
CHATGUARD_BUILD_SPEEDUPS=0) the build goes on and chatguard runs the same code in Python, with
the same results; CHATGUARD_SPEEDUPS=0 turns a built module off at run time."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SOURCE = Path("src/chatguard/filter/_speedups.c")


def compile_speedups(root: Path) -> Path | None:
    """Compile the module next to its source; its path, or None if it could not be built."""
    source = root / SOURCE
    target = source.with_name("_speedups" + (sysconfig.get_config_var("EXT_SUFFIX") or ".so"))
    compiler = shlex.split(sysconfig.get_config_var("CC") or "cc")
    command = [
        *compiler,
        "-shared",
        "-fPIC",
        "-O2",
        "-I" + sysconfig.get_paths()["include"],
        str(source),
        "-o",
        str(target),
    ]
    target.unlink(missing_ok=True)  # a failed build must not leave an older module behind
    try:
        subprocess.run(command, check=True, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        print(f"chatguard: speedups not built, running pure Python ({detail})", file=sys.stderr)
        return None
    return target


class SpeedupsBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or os.environ.get("CHATGUARD_BUILD_SPEEDUPS") == "0":
            return
        built = compile_speedups(Path(self.root))
        if built is None:
            return
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        if version != "editable":  # an editable install imports it from the source tree
            build_data["force_include"][str(built)] = str(built.relative_to(self.root / "src"))
