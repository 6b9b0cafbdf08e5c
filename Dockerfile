# syntax=docker/dockerfile:1
#
# Switchboard container image.
#
#   docker build -t switchboard:dev .
#   docker run --rm switchboard:dev --help
#   docker run --rm -v "$PWD/deploy/switchboard.example.toml:/etc/switchboard/switchboard.toml:ro" \
#       switchboard:dev check-config --config /etc/switchboard/switchboard.toml
#
# Two stages: a Debian bookworm Rust toolchain builds the release binary
# (librdkafka is compiled from source by rdkafka-sys with `./configure` and
# `make` — no cmake, the `cmake-build` feature is not enabled; TLS through the
# system OpenSSL, zlib from the system, zstd bundled and linked statically),
# then only the binary, stripped (its debug info is the `debuginfo` stage), is
# copied into debian:bookworm-slim.
#
# Dependency caching: BuildKit cache mounts keep the cargo registry, the git
# checkouts and the target directory between builds, so a source change only
# recompiles the workspace crates (librdkafka, DataFusion and Arrow stay
# built). Needs BuildKit (the default builder since Docker 23).

ARG RUST_VERSION=1.95
ARG DEBIAN_SUITE=bookworm

FROM rust:${RUST_VERSION}-${DEBIAN_SUITE} AS builder
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential pkg-config zlib1g-dev libssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The target directory lives in a cache mount, so the binary is copied out of
# it inside the same RUN.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release -p switchboard --locked \
 && install -D -m 0755 target/release/switchboard /out/switchboard \
 && install -D -m 0644 target/release/switchboard.dwp /out/debug/switchboard.dwp \
 && objcopy --only-keep-debug /out/switchboard /out/debug/switchboard.debug \
 && objcopy --strip-debug --strip-unneeded \
      --add-gnu-debuglink=/out/debug/switchboard.debug /out/switchboard \
 && /out/switchboard --help >/dev/null

# The debug info of the shipped binary, for symbolizing a core dump or a
# profile: `docker build --target debuginfo --output type=local,dest=dbg .`
# writes switchboard.debug (symbols, skeleton units; the binary's
# .gnu_debuglink names it) and switchboard.dwp (the DWARF). Not in the image.
FROM scratch AS debuginfo
COPY --from=builder /out/debug/ /

FROM debian:${DEBIAN_SUITE}-slim AS runtime
# libssl3: TLS/SASL to the brokers (librdkafka links the system OpenSSL);
# zlib1g: librdkafka's gzip; ca-certificates: broker and registry CAs.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 zlib1g \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 switchboard \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/switchboard \
      --shell /usr/sbin/nologin switchboard \
 && mkdir -p /etc/switchboard /var/lib/switchboard/crm \
 && chown -R 10001:10001 /var/lib/switchboard
COPY --from=builder /out/switchboard /usr/local/bin/switchboard
# The documented example config (every key, passes check-config) as the
# default; mount the real one over it (compose and k8s do).
COPY deploy/switchboard.example.toml /etc/switchboard/switchboard.toml
USER 10001:10001
WORKDIR /var/lib/switchboard
# Log filter (tracing EnvFilter syntax); SWITCHBOARD__SECTION__KEY variables
# override config keys.
ENV SWITCHBOARD_LOG=warn,switchboard=info
# /metrics, /healthz and /readyz (metrics.addr).
EXPOSE 9898
# No HEALTHCHECK here: the port is whatever metrics.addr says, and the
# orchestrators probe /healthz and /readyz themselves (deploy/compose.yaml
# with bash's /dev/tcp, as the image has no HTTP client; deploy/k8s/ with
# kubelet probes).
ENTRYPOINT ["/usr/local/bin/switchboard"]
CMD ["run", "--config", "/etc/switchboard/switchboard.toml"]
