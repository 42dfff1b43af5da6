# syntax=docker/dockerfile:1
# The images of Pipewright: one build stage, then two small runtime images.
#   docker build --target operator -t pipewright/operator .
#   docker build --target worker   -t pipewright/worker .
# (Not built on the development machines, which have no Docker engine; linted by the unit tier.)

FROM debian:bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      cmake ninja-build g++ pkg-config libcpprest-dev libssl-dev libopencv-dev libyaml-cpp-dev \
      prometheus-cpp-dev librdkafka-dev libboost-dev nlohmann-json3-dev libcurl4-openssl-dev \
      libgtest-dev libgmock-dev libturbojpeg0-dev libjpeg62-turbo-dev zlib1g-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY cmake ./cmake
COPY scripts/versions.sh ./scripts/versions.sh
COPY cmd ./cmd
COPY pkg ./pkg
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DPIPEWRIGHT_TESTS=OFF \
 && ninja -C /build pipewright-operator pipewright-worker pipewright

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates libcpprest2.10 libyaml-cpp0.7 libprometheus-cpp-pull1.0 \
      libprometheus-cpp-core1.0 librdkafka++1 librdkafka1 libcurl4 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 65532 --home-dir /nonexistent --shell /usr/sbin/nologin pipewright

FROM runtime AS operator
COPY --from=build /build/cmd/pipewright-operator/pipewright-operator /usr/local/bin/
USER 65532
EXPOSE 8081 9090
ENTRYPOINT ["/usr/local/bin/pipewright-operator"]

FROM runtime AS worker
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libopencv-imgcodecs406 libopencv-imgproc406 libopencv-core406 libturbojpeg0 \
      libjpeg62-turbo zlib1g wbrazilian \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /build/cmd/pipewright-worker/pipewright-worker /usr/local/bin/
USER 65532
EXPOSE 8080 9090
ENTRYPOINT ["/usr/local/bin/pipewright-worker"]
