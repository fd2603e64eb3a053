# syntax=docker/dockerfile:1
# CPU image for agency-sim: the `sim` command, Ray (head and workers for KubeRay), NumPy/fused
# backends. Build:  docker build -t REGISTRY/agency-sim:0.1.0 .
#
# Pins: the base image by exact tag (add @sha256:... when you push, see docs/deploy.md), pip /
# setuptools / wheel and the Debian packages by exact version; Ray and Hydra are pinned exactly in
# pyproject.toml. If a `constraints.txt` (pip freeze of the tested environment) is present in the
# build context, every Python package is installed at the version it names.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
RUN pip install --no-cache-dir pip==26.3 setuptools==80.9.0 wheel==0.45.1

WORKDIR /app
# Dependencies first (a layer that survives code edits): the [project] dependencies of
# pyproject.toml, read with tomllib, installed under the optional constraints file.
COPY pyproject.toml README.md constraints.tx[t] ./
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; print('\n'.join(p['dependencies']))" > /tmp/requirements.txt \
    && if [ -f constraints.txt ]; then export PIP_CONSTRAINT=/app/constraints.txt; fi \
    && pip install --no-cache-dir --requirement /tmp/requirements.txt

# Then the project itself, the same `pip install` CI runs. Editable, so that the package and the
# Hydra configs in /app/conf stay together wherever the CLI looks for them.
COPY . /app
RUN if [ -f constraints.txt ]; then export PIP_CONSTRAINT=/app/constraints.txt; fi \
    && pip install --no-cache-dir --no-build-isolation --editable . \
    && python -m compileall -q sim kernels jobs \
    && pip check \
    && sim --help > /dev/null

# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="agency-sim" \
      org.opencontainers.image.description="Distributed household economy simulator (CPU)" \
      org.opencontainers.image.licenses="Apache-2.0"

# wget: KubeRay's default liveness/readiness probes run `wget` against the Ray health endpoints.
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# The profile.d line keeps the venv first on PATH in login shells too (Debian's /etc/profile
# resets PATH; KubeRay can be configured to start Ray through `bash -l`).
RUN apt-get update \
    && apt-get install -y --no-install-recommends wget=1.21.3-1+deb12u1 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 1000 sim \
    && useradd --uid 1000 --gid 1000 --create-home --home-dir /home/sim --shell /bin/bash sim \
    && echo "export PATH=/opt/venv/bin:\$PATH" > /etc/profile.d/agency-sim-venv.sh

COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MPLBACKEND=Agg \
    MPLCONFIGDIR=/tmp/matplotlib \
    NUMBA_CACHE_DIR=/tmp/numba-cache \
    RAY_USAGE_STATS_ENABLED=0

WORKDIR /app
# Numeric user so that Kubernetes' runAsNonRoot can verify it.
USER 1000:1000

# KubeRay replaces the command with `ray start ...`; `docker run IMAGE` alone shows the CLI help,
# `docker run IMAGE sim run periods=10` runs a local simulation.
CMD ["sim", "--help"]
