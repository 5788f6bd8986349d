package e2e

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// OCRService is an httptest OCR microservice: POST /extract with
// {"attachment_id": N, ...} answers {"total": N*1.5, "vendor": "ACME"} and
// counts calls per Idempotency-Key.
type OCRService struct {
	URL  string
	mu   sync.Mutex
	keys map[string]int
}

// NewOCRService starts one for the test.
func NewOCRService(t *testing.T) *OCRService {
	s := &OCRService{keys: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			AttachmentID float64 `json:"attachment_id"`
		}
		if r.URL.Path != "/extract" || json.NewDecoder(r.Body).Decode(&req) != nil {
			http.Error(w, `{"error":"bad request"}`, http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.keys[r.Header.Get("Idempotency-Key")]++
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"total": req.AttachmentID * 1.5, "vendor": "ACME"})
	}))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Calls is how many calls it answered.
func (s *OCRService) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.keys {
		n += c
	}
	return n
}
