// Package odoo is the hub's one client for Odoo: the ingester, the writer
// and the health monitor all talk to Odoo through it.
//
// A Client speaks either XML-RPC (/xmlrpc/2/common and /xmlrpc/2/object,
// the default, every Odoo since 8) or Odoo 19's JSON-2 API
// (POST /json/2/<model>/<method> with a bearer API key), chosen by
// Config.Transport. Both transports return the same Go values: integers as
// int64, floats as float64, strings, false for empty values, []any and
// map[string]any; Record gives typed access to what Odoo really answers
// (false for empty, [id, "name"] for a many2one, Odoo datetime strings).
//
// Every failure is a *Fault that says, through Transient, whether trying
// again later can help: timeouts, refused connections, 502/503/504/429 and
// PostgreSQL concurrency errors are transient; validation, missing records,
// access errors and rejected credentials are permanent. The hub's
// events.Classify honours that answer, so nothing parses Odoo's error
// strings twice.
//
// A Client bounds its concurrent calls (Odoo has few workers), takes every
// deadline from the caller's context and its configured timeout,
// authenticates once and re-authenticates once when Odoo denies access, and
// never puts its password or API key into an error or a log line (nor any
// other configured secret: config.Scrub). It never follows a redirect,
// which could take the credentials elsewhere; a redirect is a permanent
// *Fault naming where Odoo pointed. Config.Validate refuses an http:// URL
// to another machine unless AllowInsecureHTTP is set.
package odoo
