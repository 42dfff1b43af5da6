# Pinned versions of the real components and where they are cached: sourced by every script, and
# read by CMake (PW_CACHE) so the test support finds the same files.
KAFKA_VERSION=3.9.1
K8S_VERSION=v1.34.4
ETCD_VERSION=v3.6.16
HELM_VERSION=v3.19.5
PLAYWRIGHT_VERSION=1.65.1
DOCKERFILELINT_VERSION=1.8.0
# github.com/cloudevents/sdk-go/v2 (tests/infra/cloudevents/go.mod pins it; the Python SDK is
# pinned in tests/infra/cloudevents/requirements.txt)
CLOUDEVENTS_GO_VERSION=v2.16.2
PROMETHEUS_OPERATOR_VERSION=v0.85.0

PW_CACHE=${PIPEWRIGHT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pipewright}
PW_KAFKA_LIBS=$PW_CACHE/kafka-$KAFKA_VERSION/libs
PW_NODE_MODULES=$PW_CACHE/node/node_modules
PW_CE_VENV=$PW_CACHE/venv-cloudevents
export PW_CACHE
# The real node of `scripts/cluster`
COREDNS_VERSION=v1.12.1
TRAEFIK_VERSION=v3.6.12
# github.com/cloudnativelabs/kube-router/v2, firewall only: the node's NetworkPolicy enforcement. The
# only version the Go module proxy serves; security flaws are reported for it: it runs on the test
# node's own bridge only.
KUBE_ROUTER_VERSION=v2.1.0
