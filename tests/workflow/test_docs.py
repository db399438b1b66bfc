"""Every page of the documentation runs: each `snakemake …` and `closerlook …` line of the
README's and docs/'s shell blocks, each Python block, each relative link, and the
configuration reference is the schema's.

Snakemake lines run for real in a copy of the finished reduced study where that is cheap
(their targets are up to date there, so a missing `--cores` fails as it would for a user),
as a dry run otherwise; a line that would run jobs locally must say how many cores.
`closerlook check` and `plan` run as written (they only read), other subcommands with
`--help`."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest

from closerlook.config import load_schema
from closerlook.config_reference import reference

from support import BIN, REPO

PROGRAMS = ("snakemake", "closerlook")
READ_ONLY = ("check", "plan")  # closerlook subcommands that run as written
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
NOT_LOCAL = ("-n", "--dry-run", "--profile", "--executor", "-e", "--lint", "--unlock")
CORES = ("--cores", "-c", "--jobs", "-j")


def fenced_blocks(text: str, languages: tuple[str, ...]) -> list[str]:
    """The page's code blocks fenced with one of `languages` ("" for none)."""
    blocks, current, language = [], None, ""
    for line in text.splitlines():
        if line.startswith("```"):
            if current is None:
                current, language = [], line[3:].strip()
            else:
                if language in languages:
                    blocks.append("\n".join(current))
                current = None
        elif current is not None:
            current.append(line)
    return blocks


def program_words(line: str) -> list[str] | None:
    """The words of a command line from its program on (environment assignments, an
    `srun …` prefix and a `.venv/bin/` prefix dropped), or None if it runs none of
    PROGRAMS."""
    try:
        words = shlex.split(line, comments=True)
    except ValueError:  # not a command line (a diagram, a listing)
        return None
    while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
        words.pop(0)
    if words and words[0] == "srun":
        while words and words[0].removeprefix(".venv/bin/") not in PROGRAMS:
            words.pop(0)
    if words and words[0].removeprefix(".venv/bin/") in PROGRAMS:
        return [words[0].removeprefix(".venv/bin/"), *words[1:]]
    return None


def page_commands(page) -> list[str]:
    """Command lines of a page's shell blocks that run one of PROGRAMS."""
    commands = []
    for block in fenced_blocks(page.read_text(), ("", "bash", "sh")):
        for line in block.replace("\\\n", " ").splitlines():
            if program_words(line):
                commands.append(line.strip())
    return commands


COMMANDS = [(p.name, c) for p in PAGES for c in page_commands(p)]


def runs_jobs_without_cores(line: str) -> bool:
    """A Snakemake line that would execute jobs on this machine without saying how many
    cores: Snakemake refuses it ("cores have to be specified for local execution")."""
    words = program_words(line)
    if words[0] != "snakemake" or any(w in NOT_LOCAL for w in words):
        return False
    return not any(w in CORES or w.startswith("--cores=") for w in words)


def test_the_docs_have_the_commands_a_user_needs():
    joined = "\n".join(c for _, c in COMMANDS)
    for expected in ("workflow/configs/paper.yaml", "rehearsal.yaml", "closerlook plan"):
        assert expected in joined
    assert "--report" in joined


@pytest.mark.parametrize("page, line", COMMANDS)
def test_every_local_snakemake_line_says_how_many_cores(page, line):
    assert not runs_jobs_without_cores(line), f"{page}: {line} (add --cores all)"


def test_a_line_without_cores_is_caught():
    assert runs_jobs_without_cores("snakemake figures --configfile workflow/configs/paper.yaml")
    assert not runs_jobs_without_cores("snakemake --cores all figures")
    assert not runs_jobs_without_cores("snakemake -n figures")
    assert not runs_jobs_without_cores("snakemake --profile workflow/profiles/slurm")


def test_the_configuration_reference_is_the_schemas():
    """Regenerate with `python -m closerlook.config_reference > docs/configuration.md`."""
    assert (REPO / "docs" / "configuration.md").read_text() == reference(load_schema())


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_resolves(page):
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
        if "://" not in target:
            assert (page.parent / target).exists(), f"{page.name}: {target}"


@pytest.fixture(scope="module")
def study_copy(finished, tmp_path_factory):
    """A copy of the finished reduced study laid out like the repository's top level."""
    workdir, cfg, env = finished
    copy = tmp_path_factory.mktemp("docs") / "study"
    shutil.copytree(workdir, copy, symlinks=True)
    shutil.copy(REPO / "Snakefile", copy / "Snakefile")
    (copy / "workflow").symlink_to(REPO / "workflow")
    env = {**env, "PYTHONPATH": str(REPO / "src")}
    env["PATH"] = f"{BIN}{os.pathsep}{env['PATH']}"
    return copy, cfg, env


def as_run(line: str, dry: bool) -> tuple[dict[str, str], list[str]]:
    """(environment, argv) of a docs line as the test runs it."""
    words = shlex.split(line, comments=True)
    env = {}
    while re.fullmatch(r"[A-Z_]+=\S*", words[0]):
        key, value = words.pop(0).split("=", 1)
        env[key] = value
    words = program_words(line)
    argv = [str(BIN / words[0]), *words[1:]]
    if words[0] == "snakemake":
        return env, [*argv, "--dry-run"] if dry else argv
    return env, argv if words[1] in READ_ONLY else [*argv[:2], "--help"]


def run(argv, cwd, env) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
@pytest.mark.parametrize("page, line", COMMANDS)
def test_a_docs_command_runs(page, line, study_copy):
    """For real where the study is up to date for it, else as a dry run."""
    folder, _, env = study_copy
    extra, argv = as_run(line, dry="--report" not in line)  # a report only reads
    env = {**env, **extra}
    done = run(argv, folder, env)
    if "--report" in line:
        assert done.returncode == 0, f"{page}: {line}\n{done.stderr[-3000:]}"
        return
    assert done.returncode == 0, f"{page}: {line}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    up_to_date = "Nothing to be done" in done.stdout + done.stderr
    if argv[0].endswith("snakemake") and not any(w.startswith("--config") for w in argv):
        # the embedded study's lines: the copy is finished, so they run for real, cheaply
        assert up_to_date, f"{page}: {line} has work to do in the finished study"
    if argv[0].endswith("snakemake") and up_to_date:
        _, argv = as_run(line, dry=False)
        done = run(argv, folder, env)
        assert done.returncode == 0, f"{page}: {line}\n{done.stderr[-3000:]}"


PYTHON = [
    (p.name, i, block)
    for p in PAGES
    for i, block in enumerate(fenced_blocks(p.read_text(), ("python",)))
    if "results/embedded" in block
]


@pytest.mark.slow
@pytest.mark.parametrize("page, index, block", PYTHON, ids=lambda v: str(v)[:20])
def test_a_docs_python_example_runs(page, index, block, study_copy):
    """Each Python block that reads `results/embedded` runs on the finished study."""
    folder, _, env = study_copy
    done = run([sys.executable, "-c", block], folder, env)
    assert done.returncode == 0, f"{page} block {index}\n{done.stderr[-3000:]}"
