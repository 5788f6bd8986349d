// Package githubtest is a fake of the GitHub REST endpoints the redelivery
// reconciler calls, following GitHub's documented shapes:
//
//   - GET /app/hook/deliveries: a JSON array of deliveries, newest first
//     ({"id","guid","delivered_at","redelivery","duration","status",
//     "status_code","event","action","installation_id","repository_id",
//     "throttled_at"}), per_page (default 30, at most 100) and cursor
//     pagination with the next page in a Link header
//     (<...?per_page=2&cursor=v1_12077215967>; rel="next").
//   - POST /app/hook/deliveries/{delivery_id}/attempts: 202 Accepted; the
//     redelivery is listed as a new delivery with the same guid and
//     "redelivery": true.
//
// Both require the App's JWT (Authorization: Bearer <RS256 JWT whose iss
// is the App id>), checked against the key the fake generated; anything
// else is GitHub's 401.
package githubtest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v4"
)

// Delivery is one listed delivery attempt, as GitHub serializes it.
type Delivery struct {
	ID             int64      `json:"id"`
	GUID           string     `json:"guid"`
	DeliveredAt    time.Time  `json:"delivered_at"`
	Redelivery     bool       `json:"redelivery"`
	Duration       float64    `json:"duration"`
	Status         string     `json:"status"`
	StatusCode     int        `json:"status_code"`
	Event          string     `json:"event"`
	Action         *string    `json:"action"`
	InstallationID *int64     `json:"installation_id"`
	RepositoryID   *int64     `json:"repository_id"`
	ThrottledAt    *time.Time `json:"throttled_at"`
}

// Server is the fake API.
type Server struct {
	URL    string // base URL, with a trailing slash
	AppID  int64
	KeyPEM []byte // the App's private key (PKCS#1 PEM), generated for the test

	key *rsa.PrivateKey
	srv *httptest.Server

	mu          sync.Mutex
	deliveries  []Delivery // oldest first
	nextID      int64
	redelivered []string // GUIDs asked for, in order
	listCalls   int
	failList    int // the next list calls that answer 500
	// RedeliveryStatus is the status code a redelivery gets (default 202:
	// the ingester stored it).
	redeliveryStatus int
	// resend, when set, plays GitHub's part of a redelivery: it POSTs the
	// delivery to the webhook again and returns the status it got.
	resend func(d Delivery) int
}

// SetResend makes a redelivery do what GitHub does: send the delivery to
// the webhook again (fn POSTs it and returns the answer's status code, which
// the new attempt records).
func (s *Server) SetResend(fn func(d Delivery) int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resend = fn
}

// New starts a fake for App appID with a fresh 2048-bit key; it closes with the test.
func New(tb testing.TB, appID int64) *Server {
	tb.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	s := &Server{AppID: appID, key: key, nextID: 12077215900, redeliveryStatus: http.StatusAccepted,
		KeyPEM: pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /app/hook/deliveries", s.auth(s.list))
	mux.HandleFunc("POST /app/hook/deliveries/{id}/attempts", s.auth(s.redeliver))
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL + "/"
	tb.Cleanup(s.srv.Close)
	return s
}

// Add lists a delivery attempt; ID is assigned when zero. Deliveries are
// listed newest first by DeliveredAt.
func (s *Server) Add(d Delivery) Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d.ID == 0 {
		s.nextID++
		d.ID = s.nextID
	}
	if d.Status == "" {
		d.Status = statusText(d.StatusCode)
	}
	s.deliveries = append(s.deliveries, d)
	return d
}

// Redelivered lists the GUIDs whose redelivery was asked for, in order.
func (s *Server) Redelivered() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.redelivered...)
}

// ListCalls is how many list requests were answered.
func (s *Server) ListCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.listCalls
}

// FailList makes the next n list requests answer 500.
func (s *Server) FailList(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failList = n
}

// SetRedeliveryStatus sets the status code redeliveries are listed with.
func (s *Server) SetRedeliveryStatus(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.redeliveryStatus = code
}

func statusText(code int) string {
	switch {
	case code >= 200 && code < 300:
		return "OK"
	case code == 0:
		return "timed out"
	}
	return fmt.Sprintf("Invalid HTTP Response: %d", code)
}

// auth checks the App JWT as GitHub does: RS256, signed by the App's key,
// issued for the App, not expired, at most 10 minutes long.
func (s *Server) auth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		claims := &jwt.RegisteredClaims{}
		tok, err := jwt.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
			if t.Method != jwt.SigningMethodRS256 {
				return nil, fmt.Errorf("alg %s", t.Header["alg"])
			}
			return &s.key.PublicKey, nil
		})
		if !ok || err != nil || !tok.Valid || claims.Issuer != strconv.FormatInt(s.AppID, 10) ||
			claims.ExpiresAt == nil || claims.IssuedAt == nil || claims.ExpiresAt.Sub(claims.IssuedAt.Time) > 10*time.Minute {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "A JSON web token could not be decoded",
				"documentation_url": "https://docs.github.com/rest"})
			return
		}
		next(w, r)
	}
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.listCalls++
	if s.failList > 0 {
		s.failList--
		writeJSON(w, http.StatusInternalServerError, map[string]string{"message": "Server Error"})
		return
	}
	perPage := 30
	if n, err := strconv.Atoi(r.URL.Query().Get("per_page")); err == nil && n > 0 {
		perPage = min(n, 100)
	}
	newest := s.newestFirst()
	start := 0
	if c := r.URL.Query().Get("cursor"); c != "" {
		after, err := strconv.ParseInt(strings.TrimPrefix(c, "v1_"), 10, 64)
		if err != nil {
			writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "Invalid cursor"})
			return
		}
		for start < len(newest) && newest[start].ID != after {
			start++
		}
		start++
	}
	end := min(start+perPage, len(newest))
	page := []Delivery{}
	if start < end {
		page = newest[start:end]
	}
	if end < len(newest) {
		next := fmt.Sprintf("%sapp/hook/deliveries?per_page=%d&cursor=v1_%d", s.URL, perPage, page[len(page)-1].ID)
		w.Header().Set("Link", fmt.Sprintf(`<%s>; rel="next"`, next))
	}
	writeJSON(w, http.StatusOK, page)
}

// newestFirst orders the deliveries as GitHub lists them.
func (s *Server) newestFirst() []Delivery {
	out := make([]Delivery, len(s.deliveries))
	for i, d := range s.deliveries {
		out[len(out)-1-i] = d
	}
	for i := 1; i < len(out); i++ { // insertion sort, stable, by time descending
		for j := i; j > 0 && out[j].DeliveredAt.After(out[j-1].DeliveredAt); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func (s *Server) redeliver(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	s.mu.Lock()
	var orig *Delivery
	for i := range s.deliveries {
		if s.deliveries[i].ID == id {
			orig = &s.deliveries[i]
		}
	}
	if orig == nil {
		s.mu.Unlock()
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
		return
	}
	d := *orig
	s.redelivered = append(s.redelivered, d.GUID)
	code, resend := s.redeliveryStatus, s.resend
	s.mu.Unlock()
	if resend != nil {
		code = resend(d)
	}
	d.ID, d.Redelivery, d.StatusCode, d.Status, d.DeliveredAt = 0, true, code, "", time.Now().UTC().Truncate(time.Second)
	s.Add(d)
	writeJSON(w, http.StatusAccepted, map[string]any{})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
