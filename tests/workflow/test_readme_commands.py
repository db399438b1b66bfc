"""Every `snakemake …` and `closerlook …` line of the README's code blocks runs: Snakemake
lines as a dry run, `closerlook check` and `plan` as written (they only read), the other
subcommands with `--help` — so that the README cannot rot."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess

import pytest

from support import BIN, REPO

PROGRAMS = ("snakemake", "closerlook")
READ_ONLY = ("check", "plan")  # closerlook subcommands that run as written


def shell_blocks(text: str) -> list[str]:
    """The README's code blocks fenced as bash, sh or nothing (not python)."""
    blocks, current, language = [], None, ""
    for line in text.splitlines():
        if line.startswith("```"):
            if current is None:
                current, language = [], line[3:].strip()
            else:
                if language in ("", "bash", "sh"):
                    blocks.append("\n".join(current))
                current = None
        elif current is not None:
            current.append(line)
    return blocks


def readme_commands() -> list[str]:
    """Command lines of the README's shell blocks that start one of PROGRAMS (after
    environment assignments and a `.venv/bin/` prefix), continuation lines joined."""
    commands = []
    for block in shell_blocks((REPO / "README.md").read_text()):
        for line in block.replace("\\\n", " ").splitlines():
            try:
                words = shlex.split(line, comments=True)
            except ValueError:  # not a command line (a diagram, a listing)
                continue
            while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
                words.pop(0)
            if words and words[0].removeprefix(".venv/bin/") in PROGRAMS:
                commands.append(line.strip())
    return commands


COMMANDS = readme_commands()


def test_the_readme_has_the_commands_a_user_needs():
    joined = "\n".join(COMMANDS)
    for expected in ("workflow/configs/paper.yaml", "rehearsal.yaml", "closerlook plan"):
        assert expected in joined


def as_run(line: str) -> tuple[dict[str, str], list[str]]:
    """(environment, argv) of a README line as the test runs it."""
    words = shlex.split(line, comments=True)
    env = {}
    while re.fullmatch(r"[A-Z_]+=\S*", words[0]):
        key, value = words.pop(0).split("=", 1)
        env[key] = value
    program = words[0].removeprefix(".venv/bin/")
    argv = [str(BIN / program), *words[1:]]
    if program == "snakemake":
        return env, [*argv, "--dry-run"]
    return env, argv if words[1] in READ_ONLY else [*argv[:2], "--help"]


@pytest.mark.slow
@pytest.mark.parametrize("line", COMMANDS)
def test_a_readme_command_runs(line, tmp_path, snakemake_env):
    """In a copy of the repository's top level (config.yaml, Snakefile, workflow/)."""
    for name in ("Snakefile", "config.yaml"):
        shutil.copy(REPO / name, tmp_path / name)
    (tmp_path / "workflow").symlink_to(REPO / "workflow")
    env, argv = as_run(line)
    env = {**snakemake_env, **env, "PYTHONPATH": str(REPO / "src")}
    env["PATH"] = f"{BIN}{os.pathsep}{env['PATH']}"
    done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{line}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
