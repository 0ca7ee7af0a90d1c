package main

import (
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
)

// limitsFlags bound what one request may cost and who may send it.
type limitsFlags struct {
	MaxRequestBytes        string        `help:"Largest request body, e.g. 8MiB." default:"8MiB" env:"SOTA_MAX_REQUEST_BYTES"`
	BodyReadTimeout        time.Duration `help:"Longest a client may take to send a request body (0: the default; -1s: none)." default:"30s" env:"SOTA_BODY_READ_TIMEOUT"`
	MaxSequencesPerRequest int           `help:"Most sequences one request may start (prompts × n)." default:"256" env:"SOTA_MAX_SEQUENCES_PER_REQUEST"`
	MaxWaitingSeqs         int           `help:"Most sequences waiting for the engine before requests get 503 (0: 4 × --max-num-seqs; -1: no bound)." default:"0" env:"SOTA_MAX_WAITING_SEQS"`
	AllowedHosts           []string      `help:"Host names requests may carry (the DNS-rebinding guard); default: loopback names when listening on loopback, any otherwise; * for any." env:"SOTA_ALLOWED_HOSTS" placeholder:"HOST"`
}

// maxWaiting is the engine's waiting bound for --max-num-seqs running.
func (f *limitsFlags) maxWaiting(maxNumSeqs int) int {
	switch {
	case f.MaxWaitingSeqs < 0:
		return 0
	case f.MaxWaitingSeqs == 0:
		return 4 * maxNumSeqs
	}
	return f.MaxWaitingSeqs
}

// maxBodyBytes parses --max-request-bytes.
func (f *limitsFlags) maxBodyBytes() (int64, error) {
	n, err := humanize.ParseBytes(f.MaxRequestBytes)
	if err != nil || n == 0 || n > 1<<34 {
		return 0, fmt.Errorf("--max-request-bytes %q: want a size such as 8MiB", f.MaxRequestBytes)
	}
	return int64(n), nil
}

// allowedHosts are the Host names the API answers to: --allowed-hosts, else
// loopback names when the server listens on loopback (a web page that
// rebinds its name to 127.0.0.1 gets 421), else any (a server bound to a
// routable address sits behind names this process cannot know).
func (f *limitsFlags) allowedHosts(listenHost string) []string {
	if len(f.AllowedHosts) > 0 {
		var out []string
		for _, h := range f.AllowedHosts {
			for _, p := range strings.Split(h, ",") {
				if p = strings.TrimSpace(p); p != "" {
					out = append(out, strings.ToLower(p))
				}
			}
		}
		return out
	}
	if isLoopback(listenHost) {
		hosts := []string{"localhost", "127.0.0.1", "::1"}
		if ip := net.ParseIP(strings.Trim(listenHost, "[]")); ip != nil {
			hosts = append(hosts, ip.String())
		}
		return hosts
	}
	return nil
}
