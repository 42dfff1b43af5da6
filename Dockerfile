# syntax=docker/dockerfile:1
# The images of Pipewright: one build stage, then small runtime images, all non-root.
#   docker build --target operator -t pipewright/operator .
#   docker build --target worker   -t pipewright/worker .
#   docker build --target router   -t pipewright/router .   (nginx from Debian, for the routers)
# On the development machines (no Docker engine, no registry) `scripts/cluster up` builds them
# with buildah on a debootstrapped debian:bookworm-slim and loads them into its containerd.
# dpkg's unsafe I/O (no fsync per file) in every apt stage: an interrupted build is simply rerun,
# and unpacking is what the apt stages spend their time on (350 MB downloads in seconds here).

FROM debian:bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends -o Dpkg::Options::=--force-unsafe-io \
      cmake ninja-build g++ pkg-config ccache libcpprest-dev libssl-dev libopencv-dev \
      libyaml-cpp-dev prometheus-cpp-dev librdkafka-dev libboost-dev nlohmann-json3-dev \
      libcurl4-openssl-dev libturbojpeg0-dev libjpeg62-turbo-dev zlib1g-dev libjemalloc-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY cmake ./cmake
COPY scripts/versions.sh ./scripts/versions.sh
COPY cmd ./cmd
COPY pkg ./pkg
# The compiler cache survives between builds (a cache mount), so a small change rebuilds in
# seconds instead of minutes. The build is laid out as `scripts/build` lays out a clone (build
# type RelWithDebInfo in <source>/build, paths relative to the source, directory not hashed), so
# its compile commands are the host's: `scripts/cluster` mounts the host's own ccache here and
# the first image build reuses the host build's objects (real hits: same compiler, flags and
# headers, or a miss). The debug info is stripped; the symbols stay, as in a Release build.
# ccache also hashes the locale variables (they change the compiler's messages): scripts/cluster
# passes the host's own, and those not given stay unset here.
ARG LANG
ARG LC_ALL
ARG LC_CTYPE
ARG LC_MESSAGES
RUN --mount=type=cache,target=/ccache,id=pipewright-ccache \
    export CCACHE_DIR=/ccache CCACHE_BASEDIR=/src CCACHE_NOHASHDIR=1 CCACHE_STATSLOG=/tmp/ccache.log \
 && cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPIPEWRIGHT_TESTS=OFF \
      -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
 && ninja -C build -j2 pipewright-operator pipewright-worker \
 && { ccache --show-log-stats || true; } \
 && mkdir /out \
 && strip --strip-debug -o /out/pipewright-operator build/cmd/pipewright-operator/pipewright-operator \
 && strip --strip-debug -o /out/pipewright-worker build/cmd/pipewright-worker/pipewright-worker

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends -o Dpkg::Options::=--force-unsafe-io \
      ca-certificates libcpprest2.10 libyaml-cpp0.7 libprometheus-cpp-pull1.0 \
      libprometheus-cpp-core1.0 librdkafka++1 librdkafka1 libcurl4 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 65532 --home-dir /nonexistent --shell /usr/sbin/nologin pipewright

FROM runtime AS operator
COPY --from=build /out/pipewright-operator /usr/local/bin/
USER 65532
EXPOSE 8081 9090
ENTRYPOINT ["/usr/local/bin/pipewright-operator"]

FROM runtime AS worker
RUN apt-get update \
 && apt-get install -y --no-install-recommends -o Dpkg::Options::=--force-unsafe-io \
      libopencv-imgcodecs406 libopencv-imgproc406 libopencv-core406 libturbojpeg0 \
      libjpeg62-turbo zlib1g libjemalloc2 wbrazilian \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/pipewright-worker /usr/local/bin/
# The worker links jemalloc (CMakeLists.txt requires it outside sanitizer builds): fail here, not
# in a pod, if the binary lacks it or any library it needs is missing from this stage.
RUN ldd /usr/local/bin/pipewright-worker | grep -q 'libjemalloc.so.2 => /' \
 && ! ldd /usr/local/bin/pipewright-worker | grep 'not found'
USER 65532
EXPOSE 8080 9090
ENTRYPOINT ["/usr/local/bin/pipewright-worker"]

# The WeightedService router: Debian's nginx, run as a non-root user with a read-only root. The
# operator mounts nginx.conf (which keeps its pid and temp files under /tmp, an emptyDir);
# `-e stderr` keeps nginx from opening its compiled-in error log before it reads that file.
FROM debian:bookworm-slim AS router
RUN apt-get update \
 && apt-get install -y --no-install-recommends -o Dpkg::Options::=--force-unsafe-io nginx-light \
 && rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled/* \
 && useradd --system --uid 65532 --home-dir /nonexistent --shell /usr/sbin/nologin router \
 && mkdir -p /var/lib/nginx/body /var/lib/nginx/fastcgi /var/lib/nginx/proxy \
      /var/lib/nginx/scgi /var/lib/nginx/uwsgi \
 && chown -R 65532:65532 /var/lib/nginx
USER 65532
EXPOSE 8080
STOPSIGNAL SIGQUIT
ENTRYPOINT ["/usr/sbin/nginx", "-e", "stderr", "-g", "daemon off;"]
