// CoreDNS with only the plugins the test node's Corefile uses (scripts/cluster: bind, errors,
// kubernetes, cache), as CoreDNS documents for custom builds: a main package that imports the
// chosen plugins instead of core/plugin's list of all of them. The others' cloud SDKs (Route 53,
// Azure, Google Cloud DNS, ...) were two fifths of the packages a first install compiled.
package main

import (
	"github.com/coredns/coredns/coremain"
	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/kubernetes"
)

func main() {
	coremain.Run()
}
