//go:build tools

// Package tools pins the kube-network-policies command so `go mod tidy` records its dependencies.
package tools

import _ "sigs.k8s.io/kube-network-policies/cmd"
