"""The relay's container image as a CDK asset, built by `cdk deploy` (synthesis needs no Docker).

At synthesis CDK only stages the build context into cdk.out and hashes it; the operator's
Docker builds and pushes the image during `cdk deploy`. The context is staged here from the
`!` entries of the repository's .dockerignore, the same files `docker build .` sends, so the
hash changes exactly when the image's inputs do and no walk of the whole repository (the venv,
node_modules) slows synthesis.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from aws_cdk import Stage
from aws_cdk import aws_ecr_assets as ecr_assets
from constructs import Construct

from stacks.aws.bundling import REPO_ROOT

DOCKERIGNORE = REPO_ROOT / ".dockerignore"
_SKIPPED = shutil.ignore_patterns("__pycache__", "*.pyc")


def context_entries(dockerignore: Path = DOCKERIGNORE) -> tuple[str, ...]:
    """The paths the build context keeps: the `!` lines of a `*`-first .dockerignore."""
    lines = [line.strip() for line in dockerignore.read_text().splitlines()]
    entries = [line for line in lines if line and not line.startswith("#")]
    if not entries or entries[0] != "*":
        raise ValueError(f"{dockerignore}: the first pattern must be '*' (keep only what is named)")
    return tuple(e[1:] for e in entries if e.startswith("!"))


def stage_context(destination: Path, root: Path = REPO_ROOT) -> Path:
    """Copy the context's entries from `root` into `destination` (emptied first)."""
    shutil.rmtree(destination, ignore_errors=True)
    for entry in context_entries(root / ".dockerignore"):
        source, target = root / entry, destination / entry
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=_SKIPPED)
        else:
            shutil.copy2(source, target)
    shutil.copy2(root / ".dockerignore", destination / ".dockerignore")
    return destination


def relay_image(scope: Construct, construct_id: str) -> ecr_assets.DockerImageAsset:
    """The relay image for arm64 Fargate tasks, from a context staged in the app's outdir."""
    stage = Stage.of(scope)
    if stage is None:
        raise ValueError("the relay image needs its construct inside a CDK App")
    context = stage_context(Path(stage.outdir) / ".relay-image-context")
    return ecr_assets.DockerImageAsset(
        scope,
        construct_id,
        directory=str(context),
        platform=ecr_assets.Platform.LINUX_ARM64,
        display_name="Claude relay",
    )
