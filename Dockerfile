# Images of Quarry: `--target quarry` (the quarry binary: standalone and every cluster role) and
# `--target operator` (quarry-operator). Used by e2e/kind/run.sh; not built in CI here (no Docker).
FROM rust:1.88-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release -p quarry-node -p quarry-controller

FROM debian:bookworm-slim AS runtime
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates libstdc++6 && rm -rf /var/lib/apt/lists/*
USER 65532:65532

FROM runtime AS quarry
COPY --from=build /src/target/release/quarry /usr/local/bin/quarry
EXPOSE 19530 9091 7000
ENTRYPOINT ["quarry"]

FROM runtime AS operator
COPY --from=build /src/target/release/quarry-operator /usr/local/bin/quarry-operator
EXPOSE 19531 9091
ENTRYPOINT ["quarry-operator"]
