# syntax=docker/dockerfile:1
# The lithomap image: every `lithomap` verb, the dashboard, a Prefect worker or server and the
# MLflow server, from one set of pinned dependencies (constraints.txt). Build and run:
#   docker build -t lithomap:0.1.0 .
#   docker run --rm lithomap:0.1.0 lithomap --help
# The services are wired together in docker-compose.yaml (README: "Docker and scale-out").

# --- build: a virtual environment with lithomap and its pinned dependencies -----------------
FROM python:3.11.14-slim-bookworm AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /build
# Dependencies first, in their own layer: it is rebuilt only when the pins or the dependency
# list change, not on every code change. Rasterio, pyproj and pyogrio wheels bundle GDAL and
# PROJ, so no system GDAL is installed.
COPY pyproject.toml constraints.txt ./
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; print('\n'.join(p['dependencies'] + p['optional-dependencies']['scale']))" > requirements.txt \
    && pip install --requirement requirements.txt --constraint constraints.txt

COPY README.md ./
COPY src ./src
RUN pip install --no-deps --constraint constraints.txt . \
    && pip check

# --- runtime: the environment, the repository files the services read, a non-root user -----
FROM python:3.11.14-slim-bookworm AS runtime

# git: DVC and the run provenance (commit tags) read the repository a container works in.
# Debian replaces package versions with security updates, so they are not pinned here;
# the base image tag pins the release.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install --yes --no-install-recommends git \
    && rm -rf /var/lib/apt/lists/* \
    && git config --system --add safe.directory '*' \
    && groupadd --gid 10001 lithomap \
    && useradd --uid 10001 --gid lithomap --create-home --shell /usr/sbin/nologin lithomap

COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    MPLBACKEND=Agg \
    TF_CPP_MIN_LOG_LEVEL=3 \
    LITHOMAP_HEALTHCHECK_URL=http://127.0.0.1:8501/_stcore/health

WORKDIR /app
# params.yaml, dvc.yaml, dashboard/, flows/, docker/ (.dockerignore keeps data, models,
# tracking stores, environments and git out).
COPY --chown=lithomap:lithomap . /app

USER 10001:10001
EXPOSE 8501

# The dashboard's health by default; compose gives each service its own URL.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "/app/docker/healthcheck.py"]

ENTRYPOINT ["/app/docker/entrypoint.sh"]
CMD ["lithomap", "--help"]
