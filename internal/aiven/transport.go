package aiven

import (
	"net/http"

	"github.com/aiven-token-rotator/aiven-token-rotator/internal/boundedhttp"
)

// NewTransport is the HTTP transport a Client uses by default: a clone of
// http.DefaultTransport with response headers capped at 64 KiB. Clients
// given the same one (Options.Transport) share its connections: a sweep
// opens a client per secret, and a pool each would hold a socket per
// secret against Lambda's 1,024 file descriptors.
func NewTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxResponseHeaderBytes = boundedhttp.MaxHeaderBytes
	return t
}
