"""Tests, benches, scripts and CI read only files inside the repository, so any clone runs them.

A reference is outside when a `Path(__file__)` chain climbs above the repository root, when a
relative path with `..` segments leaves it from the file's own folder, or when it names an
absolute home or work folder of some machine.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("tests", "bench", "scripts", ".ci")
SKIPPED_PARTS = {"__pycache__", ".pytest_cache", ".hypothesis", "cdk.out", "node_modules"}

FILE_CHAIN = re.compile(
    r"Path\(__file__\)(?:\.resolve\(\))?(?P<steps>(?:\.parents\[\d+\]|\.parent)+)"
    r"(?P<rest>(?:\s*/\s*\"[^\"]*\")*)"
)
STEP = re.compile(r"\.parents\[(\d+)\]|\.parent")
PARENT_SEGMENTS = re.compile(r"(?<![\w.])(?:\.\./)+(?:\.\.(?![\w]))?|(?<![\w.])\.\.(?=[\"'\s)]|$)")
FOREIGN_ROOTS = re.compile(r"(?<![\w.$~-])/(?:work|home|Users|root|mnt)/[\w.-]+")


def _climb(steps: str) -> int:
    """How many folders above the file's own folder a `.parents[n]`/`.parent` chain ends."""
    levels = 0
    for match in STEP.finditer(steps):
        levels += int(match.group(1)) + 1 if match.group(1) is not None else 1
    # Path(__file__) is the file itself: its first `.parent` is its folder (level 0).
    return levels - 1


def outside_references(path: Path, text: str) -> list[str]:
    """Each reference in `text` (the content of `path`) that reaches outside the repository."""
    folder = path.parent.resolve()
    depth = len(folder.relative_to(ROOT).parts)
    found: list[str] = []
    for match in FILE_CHAIN.finditer(text):
        if _climb(match.group("steps")) > depth:
            found.append(match.group(0))
    for match in PARENT_SEGMENTS.finditer(text):
        target = (folder / match.group(0)).resolve()
        if not target.is_relative_to(ROOT):
            found.append(match.group(0))
    found.extend(match.group(0) for match in FOREIGN_ROOTS.finditer(text))
    return found


def scanned_files() -> list[Path]:
    files = []
    for top in SCANNED:
        for path in sorted((ROOT / top).rglob("*")):
            if not path.is_file() or SKIPPED_PARTS.intersection(path.parts):
                continue
            if path.resolve() == Path(__file__).resolve():
                continue
            files.append(path)
    return files


def test_the_scan_covers_every_folder_it_names() -> None:
    folders = {path.relative_to(ROOT).parts[0] for path in scanned_files()}
    assert folders == set(SCANNED)


@pytest.mark.parametrize(
    ("relative", "text"),
    [
        ("tests/lambdas/relay/x.py", 'F = Path(__file__).parents[3].parent / "shared"'),
        ("tests/lambdas/relay/x.py", 'F = Path(__file__).resolve().parents[4] / "fixtures"'),
        ("tests/x.py", 'open("../../shared/fixtures/a.json")'),
        ("scripts/x.sh", 'cat "$(dirname "$0")/../../shared/a"'),
        ("bench/x.py", 'load("/work/shared/fixtures/a.json")'),
        (".ci/run", "cp /home/ci/fixtures/* tests/"),
    ],
)
def test_a_reference_outside_the_repository_is_found(relative: str, text: str) -> None:
    assert outside_references(ROOT / relative, text)


@pytest.mark.parametrize(
    ("relative", "text"),
    [
        ("tests/lambdas/relay/x.py", 'F = Path(__file__).parents[2] / "fixtures"'),
        ("tests/lambdas/relay/x.py", "ROOT = Path(__file__).parents[3]"),
        (".ci/run", 'cd "$(dirname "$0")/.."'),
        ("tests/x.py", 'open("../README.md")'),
        ("tests/x.py", 'tmp = "/tmp/x"; module = "relay.core"'),
    ],
)
def test_a_reference_inside_the_repository_is_accepted(relative: str, text: str) -> None:
    assert outside_references(ROOT / relative, text) == []


def test_nothing_under_tests_bench_scripts_or_ci_reads_outside_the_repository() -> None:
    offenders = {}
    for path in scanned_files():
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        found = outside_references(path, text)
        if found:
            offenders[str(path.relative_to(ROOT))] = found
    assert offenders == {}, "copy what these read into the repo (tests/fixtures/)"
