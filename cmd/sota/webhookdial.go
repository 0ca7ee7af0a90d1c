package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"
	"time"
)

// errPrivateWebhook refuses a webhook to an address inside the network.
var errPrivateWebhook = errors.New("webhook address not allowed")

// webhookClient delivers webhooks. Unless allowPrivate, it refuses to
// connect to loopback, private, link-local (cloud metadata), unspecified and
// multicast addresses: a tenant's webhook URL must not reach inside the
// provider's network. The check is on the address actually dialled, after
// DNS, so a name that resolves (or rebinds) inward is refused too.
func webhookClient(allowPrivate bool) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	if !allowPrivate {
		d.Control = func(_, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			ip := net.ParseIP(host)
			if ip == nil || inward(ip) {
				return fmt.Errorf("%w: %s is inside the network (serve with --webhook-allow-private to allow it)", errPrivateWebhook, host)
			}
			return nil
		}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // a proxy would dial for us, past the check
	tr.DialContext = d.DialContext
	return &http.Client{Transport: tr, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// inward reports whether ip is not a public unicast address.
func inward(ip net.IP) bool {
	return ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() ||
		ip.Equal(net.IPv4bcast) || isSharedOrReserved(ip)
}

// isSharedOrReserved: carrier-grade NAT (100.64/10) and 0/8, 240/4.
func isSharedOrReserved(ip net.IP) bool {
	v4 := ip.To4()
	if v4 == nil {
		return false
	}
	return v4[0] == 0 || v4[0] >= 240 || (v4[0] == 100 && v4[1]&0xc0 == 64)
}
