package config

import (
	"net"
	"net/url"
	"strings"
)

// AllowInsecureHTTPKey is the YAML key that lets credentials go over
// http:// to another machine; every section that sends credentials to a
// URL uses this same name.
const AllowInsecureHTTPKey = "allow_insecure_http"

// CheckCleartext adds a problem at path when rawURL is http:// to a host
// that is not this machine and what (e.g. "the Odoo password") would be
// sent to it, unless allowed (the section's allow_insecure_http). Loopback
// (localhost, 127.0.0.0/8, ::1) is allowed: the credentials do not leave
// the machine. An unparsable URL is left to the section's own check.
func CheckCleartext(ps *Problems, path, rawURL, what string, allowed bool) {
	if allowed {
		return
	}
	u, err := url.Parse(rawURL)
	if err != nil || !strings.EqualFold(u.Scheme, "http") || u.Host == "" || IsLoopbackHost(u.Hostname()) {
		return
	}
	ps.Add(path, "http:// to %s would send %s in clear text to another machine: use https://, "+
		"or set %s: true beside this url if the network in between is trusted (a compose network, a cluster with its own encryption)",
		u.Hostname(), what, AllowInsecureHTTPKey)
}

// IsLoopbackHost reports whether host (a URL's Hostname) is this machine:
// localhost, or an address in 127.0.0.0/8 or ::1.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
