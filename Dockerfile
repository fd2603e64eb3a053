# syntax=docker/dockerfile:1
# CPU image for agency-sim: the `sim` command, Ray (head and workers for KubeRay), NumPy/fused
# backends. Build:  docker build -t REGISTRY/agency-sim:0.1.0 .
#
# Layers, in the order a release changes them: the base image; the Debian packages and the user;
# the virtualenv with every dependency at the version `constraints.txt` names (about 1.1 GB, rebuilt
# only when pyproject.toml's dependencies or constraints.txt change); conf/; the project itself,
# installed from a wheel (a few hundred kB). A code-only change rebuilds the last two.
#
# Pins: the base image by exact tag (add @sha256:... when you push, see docs/deploy.md), pip /
# setuptools / wheel exactly, every Python dependency by constraints.txt (Ray and Hydra also
# exactly in pyproject.toml). Debian packages come from the base's release at build time (their
# security updates included), so they are not pinned.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# ---------------------------------------------------------------------------------------------
# The dependencies, from the lock file only: this stage does not see the project's code.
FROM ${PYTHON_IMAGE} AS deps

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
RUN pip install --no-cache-dir pip==26.3 setuptools==80.9.0 wheel==0.45.1

WORKDIR /src
COPY pyproject.toml constraints.txt ./
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; print('\n'.join(p['dependencies']))" > /tmp/requirements.txt \
    && pip install --no-cache-dir --constraint constraints.txt --requirement /tmp/requirements.txt

# ---------------------------------------------------------------------------------------------
# The project as a wheel (not editable: nothing of it lands in the dependency layer).
FROM deps AS build
COPY . /src
RUN pip wheel --no-cache-dir --no-deps --no-build-isolation --wheel-dir /wheels .

# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="agency-sim" \
      org.opencontainers.image.description="Distributed household economy simulator (CPU)" \
      org.opencontainers.image.licenses="Apache-2.0"

# wget: KubeRay's default liveness/readiness probes run `wget` against the Ray health endpoints.
# It is not pinned (DL3008 ignored): Debian drops the old version from the archive on each
# security update, so an exact pin breaks the build; the base image's tag fixes the release.
# /app belongs to uid 1000 so that `sim run` can create outputs/ there (the code in it does not).
# The profile.d line keeps the venv first on PATH in login shells too (Debian's /etc/profile
# resets PATH; KubeRay can be configured to start Ray through `bash -l`).
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends wget \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 1000 sim \
    && useradd --uid 1000 --gid 1000 --create-home --home-dir /home/sim --shell /bin/bash sim \
    && install -d -o 1000 -g 1000 /app \
    && echo "export PATH=/opt/venv/bin:\$PATH" > /etc/profile.d/agency-sim-venv.sh

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MPLBACKEND=Agg \
    MPLCONFIGDIR=/tmp/matplotlib \
    NUMBA_CACHE_DIR=/tmp/numba-cache \
    RAY_USAGE_STATS_ENABLED=0 \
    SIM_CONF_DIR=/app/conf

# The dependency layer: identical from one code change to the next.
COPY --from=deps /opt/venv /opt/venv
# The Hydra configs (SIM_CONF_DIR), then the project itself: the small layers a release changes.
COPY conf /app/conf
# (COPY, not RUN --mount=from=build: buildah 1.28's layer cache ignores a mount's content and
# would keep the previous code.)
COPY --from=build /wheels /tmp/wheels
RUN PIP_ROOT_USER_ACTION=ignore pip install --no-cache-dir --no-deps --no-index /tmp/wheels/agency_sim-*.whl \
    && pip check \
    && sim --help > /dev/null

WORKDIR /app
# Numeric user so that Kubernetes' runAsNonRoot can verify it.
USER 1000:1000

# KubeRay replaces the command with `ray start ...`; `docker run IMAGE` alone shows the CLI help,
# `docker run IMAGE sim run periods=10` runs a local simulation (outputs in /app/outputs).
CMD ["sim", "--help"]
