// Package dns stands in, at build time only, for lego's generated list of its ~170 DNS-01
// providers (providers/dns/zz_gen_dns_providers.go) in the Traefik that `scripts/cluster` runs:
// scripts/install builds Traefik with `go build -overlay` mapping that one file to this one. The
// test node obtains no ACME certificates, and those providers' cloud SDKs were a third of the
// packages Traefik compiled. Nothing else of Traefik or lego changes; a certificate resolver with
// a DNS challenge fails with the error below.
package dns

import (
	"fmt"

	"github.com/go-acme/lego/v4/challenge"
)

// NewDNSChallengeProviderByName refuses every provider: none is built into this Traefik.
func NewDNSChallengeProviderByName(name string) (challenge.Provider, error) {
	return nil, fmt.Errorf("DNS-01 provider %q is not built into this Traefik (scripts/install)", name)
}
