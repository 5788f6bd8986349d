package writer

import (
	"net/http"

	"github.com/insightpulse/pulsehub/events/service"
	"github.com/prometheus/client_golang/prometheus"
)

// odooHealth answers GET /health/odoo: each Odoo instance's last call. It
// is 503 while an instance is down (its last call failed transiently), so
// a probe can watch Odoo through the writer, while /health stays about
// the writer itself.
func (w *writer) odooHealth() http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
		list := w.monitor.Status()
		status, code := "ok", http.StatusOK
		for _, s := range list {
			if s.State == "down" {
				status, code = "fail", http.StatusServiceUnavailable
			}
		}
		service.WriteJSON(rw, code, map[string]any{"status": status, "instances": list})
	})
}

// batchMetrics counts the plans of each call the batcher makes.
type batchMetrics struct {
	size *prometheus.HistogramVec
}

func newBatchMetrics(reg prometheus.Registerer) *batchMetrics {
	m := &batchMetrics{size: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "pulsehub", Subsystem: "odoowriter",
		Name: "batch_size", Help: "Plans (messages) per batch applied to Odoo, by route and op.",
		Buckets: []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000}}, []string{"route", "op"})}
	if reg != nil {
		reg.MustRegister(m.size)
	}
	return m
}

func (m *batchMetrics) observe(route, op string, size int) {
	m.size.WithLabelValues(route, op).Observe(float64(size))
}
