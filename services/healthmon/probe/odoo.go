package probe

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/insightpulse/pulsehub/odoo"
	"github.com/insightpulse/pulsehub/services/healthmon/status"
)

// Odoo probes one Odoo instance through the hub's Odoo client: the version
// call answers (no credentials needed) and the configured credentials
// authenticate. Each check logs in anew, so rotated or revoked credentials
// show up at the next probe rather than when a write fails.
//
// No answer (refused, timed out, a proxy's 502/503/504) is down; rejected
// credentials or any other fault is critical; a slow answer is graded by
// Latency.
type Odoo struct {
	Target  string         // "odoo-<instance>"
	Config  odoo.Config    // the instance as configured under odoo:
	Latency status.Latency // slow-answer thresholds, for both calls together
	Client  *http.Client   // shared by the checks; default http.DefaultClient
	Clock   Clock          // default time.Now
}

// Name is the target's name.
func (p *Odoo) Name() string { return p.Target }

// Check asks for the version, then authenticates.
func (p *Odoo) Check(ctx context.Context) ([]Result, error) {
	return []Result{p.check(ctx)}, nil
}

func (p *Odoo) check(ctx context.Context) Result {
	r := Result{Target: p.Target, Kind: KindOdoo, CheckedAt: p.Clock.Now()}
	r.Details = map[string]any{"url": redact(p.Config.URL), "database": p.Config.Database, "transport": p.transport()}
	hc := p.Client
	if hc == nil {
		hc = http.DefaultClient
	}
	c, err := odoo.New(p.Config, odoo.WithHTTPClient(hc))
	if err != nil {
		r.Status, r.Message = status.Critical, err.Error()
		return r
	}
	v, err := c.Version(ctx)
	if err != nil {
		r.Latency = p.Clock.Now().Sub(r.CheckedAt)
		r.Status, r.Message = faultStatus(err), "version: "+err.Error()
		return r
	}
	r.Details["server_version"] = v.ServerVersion
	if v.ServerVersionInfo != nil {
		r.Details["server_version_info"] = v.ServerVersionInfo
	}
	uid, err := c.Authenticate(ctx)
	r.Latency = p.Clock.Now().Sub(r.CheckedAt)
	if err != nil {
		r.Status, r.Message = faultStatus(err), fmt.Sprintf("Odoo %s answered version, but authenticate failed: %v", v.ServerVersion, err)
		return r
	}
	r.Details["uid"] = uid
	r.Status, r.Message = status.OK, fmt.Sprintf("Odoo %s answered version and the credentials authenticate", v.ServerVersion)
	return graded(r, p.Latency)
}

func (p *Odoo) transport() string {
	if p.Config.Transport == "" {
		return odoo.TransportXMLRPC
	}
	return p.Config.Transport
}

// faultStatus is down when Odoo did not answer at all, critical when it
// answered with a fault.
func faultStatus(err error) status.Status {
	var f *odoo.Fault
	if !errors.As(err, &f) {
		return status.Critical
	}
	switch {
	case f.Err != nil:
		return status.Down
	case f.HTTPStatus == http.StatusBadGateway, f.HTTPStatus == http.StatusServiceUnavailable, f.HTTPStatus == http.StatusGatewayTimeout:
		return status.Down
	}
	return status.Critical
}
