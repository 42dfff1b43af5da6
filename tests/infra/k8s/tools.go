//go:build tools

// Package tools pins the commands built from k8s.io/kubernetes so `go mod tidy` records them:
// the control plane the tests start, and the node (kubelet, kube-scheduler, kube-proxy) that
// `scripts/cluster` runs.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
