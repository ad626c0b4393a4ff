# iofs in a container.
#
#   podman build -t iofs .            (or: docker build -t iofs .)
#   podman run --rm --device /dev/fuse --cap-add SYS_ADMIN iofs mount /mnt --foreground
#
# BASE_IMAGE: any Debian bookworm image (default: the public slim one). With no
# registry, make one with debootstrap and `podman import` (scripts/container-test
# does exactly that).
#
# Python packages: wheels in containers/wheels/ (made on a bookworm host with
# `pip wheel -w containers/wheels pyfuse3 trio setuptools wheel`) are installed
# with --no-index, so the build needs no HTTPS at all. With no wheels there, pip
# uses the network and pyfuse3 is compiled here against libfuse3-dev.
# Extra CA certificates (an intercepting HTTPS proxy) go in
# containers/ca-certificates/*.crt; the build stage trusts them.

ARG BASE_IMAGE=docker.io/library/debian:bookworm-slim

FROM ${BASE_IMAGE} AS base
ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 PYTHONDONTWRITEBYTECODE=1
# tini is PID 1: it forwards SIGTERM/SIGINT to iofs, which then unmounts cleanly.
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends python3 python3-venv fuse3 tini; \
    apt-get clean; rm -rf /var/lib/apt/lists/*

FROM base AS build
COPY containers/wheels/ /tmp/wheels/
COPY containers/ca-certificates/ /tmp/ca-certificates/
# Only without wheels: what pyfuse3 needs to build, and HTTPS for pip.
RUN set -eux; \
    if ! ls /tmp/wheels/*.whl >/dev/null 2>&1; then \
        apt-get update; \
        apt-get install -y --no-install-recommends \
            ca-certificates gcc libc6-dev python3-dev libfuse3-dev pkg-config; \
        if ls /tmp/ca-certificates/*.crt >/dev/null 2>&1; then \
            cp /tmp/ca-certificates/*.crt /usr/local/share/ca-certificates/; \
            update-ca-certificates; \
        fi; \
    fi
COPY . /src/
RUN set -eu; \
    python3 -m venv /opt/iofs; \
    if ls /tmp/wheels/*.whl >/dev/null 2>&1; then \
        echo "iofs build: installing from containers/wheels (no index)"; \
        /opt/iofs/bin/pip install --no-cache-dir --no-index --find-links /tmp/wheels /src || { \
            echo "iofs build: the wheels in containers/wheels do not fit this image ($(python3 -V));" \
                 "make them with a Python of the same version, or empty the directory to use the network" >&2; \
            exit 1; }; \
    else \
        echo "iofs build: no wheels given, installing from the package index"; \
        PIP_CERT=/etc/ssl/certs/ca-certificates.crt /opt/iofs/bin/pip install --no-cache-dir /src; \
    fi; \
    /opt/iofs/bin/python -c 'import pyfuse3, trio, iofs'

FROM base
COPY --from=build /opt/iofs /opt/iofs
ENV PATH=/opt/iofs/bin:$PATH
ENTRYPOINT ["/usr/bin/tini", "--", "iofs"]
CMD ["--help"]
