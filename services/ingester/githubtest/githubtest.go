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
//     redelivery is made afterwards (SetResend) and listed as a new
//     delivery with the same guid and "redelivery": true.
//
// Both require the App's JWT (Authorization: Bearer <RS256 JWT whose iss
// is the App id>), checked against the key the fake generated and against
// the fake's clock (SetClock): anything else is GitHub's 401, with
// GitHub's own messages for a JWT issued in the future or expired.
//
// The fake is as strict as GitHub where the reconciler could go wrong:
//
//   - retention: a delivery older than Retention (72 h) is refused a
//     redelivery (422 with a documentation_url), and so is an id it does
//     not know. The list keeps showing a delivery for PurgeLag (1 h) after
//     that, so a reconciler that trusts the list to say what can still be
//     redelivered is caught.
//   - late listing: a redelivery attempt is listed only ListDelay (1 s)
//     after it was made, and a delivery added with ListedAt only from then.
//   - rate limits: every answer carries X-RateLimit-Limit, -Remaining,
//     -Used, -Reset and -Resource; an exhausted budget (SetRateLimit) is
//     403 with X-RateLimit-Remaining 0. Secondary limits: more
//     redeliveries in a minute than SetSecondaryLimit allows, or the next
//     requests forced by SecondaryLimitNext, answer 403 or 429 with
//     Retry-After and GitHub's secondary-rate-limit documentation_url.
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

// GitHub's documentation URLs in error answers (go-github recognises a
// secondary rate limit by the latter's fragment).
const (
	DocRedeliver      = "https://docs.github.com/rest/apps/webhooks#redeliver-a-delivery-for-an-app-webhook"
	DocRateLimit      = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-the-rate-limit"
	DocSecondaryLimit = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
	docREST           = "https://docs.github.com/rest"
)

// GitHub's 401 messages for an App JWT whose time claims it refuses.
const (
	MessageIssuedAt    = "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"
	MessageExpired     = "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires"
	MessageExpiresLate = "'Expiration time' claim ('exp') is too far in the future"
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

	// ListedAt is when the list starts showing the delivery (by the
	// fake's clock); zero = at once. Not part of GitHub's answer.
	ListedAt time.Time `json:"-"`
}

// Server is the fake API.
type Server struct {
	URL    string // base URL, with a trailing slash
	AppID  int64
	KeyPEM []byte // the App's private key (PKCS#1 PEM), generated for the test

	key *rsa.PrivateKey
	srv *httptest.Server
	wg  sync.WaitGroup // redeliveries being made

	mu          sync.Mutex
	now         func() time.Time
	deliveries  []Delivery // in the order added
	nextID      int64
	redelivered []string // GUIDs asked for and accepted (202), in order
	refused     []string // GUIDs whose redelivery was refused (422)
	listCalls   int
	failList    int // the next list calls that answer 500
	failPost    int // the next redelivery requests that answer 502
	refuse      map[string]bool
	retention   time.Duration
	purgeLag    time.Duration
	listDelay   time.Duration
	rate        rateLimit
	secondary   secondaryLimit
	posts       []time.Time // when each redelivery request came, by the fake's clock
	// redeliveryStatus is the status code a redelivery gets (default 202:
	// the ingester stored it).
	redeliveryStatus int
	// resend, when set, plays GitHub's part of a redelivery: it POSTs the
	// delivery to the webhook again and returns the status it got.
	resend func(d Delivery) int
}

type rateLimit struct {
	limit, used int
	reset       time.Time
}

type secondaryLimit struct {
	perMinute  int           // redeliveries allowed in any minute; 0 = no limit
	next       int           // the next requests answered with a secondary limit
	status     int           // 403 or 429
	retryAfter time.Duration // the Retry-After given
}

// Defaults of the fake's strictness.
const (
	DefaultRetention = 72 * time.Hour // GitHub redelivers deliveries of the past 3 days
	DefaultPurgeLag  = time.Hour
	DefaultListDelay = time.Second
	DefaultRateLimit = 5000 // requests an hour
)

// New starts a fake for App appID with a fresh 2048-bit key; it closes with the test.
func New(tb testing.TB, appID int64) *Server {
	tb.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	s := &Server{AppID: appID, key: key, nextID: 12077215900, redeliveryStatus: http.StatusAccepted, now: time.Now,
		refuse: map[string]bool{}, retention: DefaultRetention, purgeLag: DefaultPurgeLag, listDelay: DefaultListDelay,
		rate:   rateLimit{limit: DefaultRateLimit},
		KeyPEM: pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /app/hook/deliveries", s.auth(s.list))
	mux.HandleFunc("POST /app/hook/deliveries/{id}/attempts", s.auth(s.redeliver))
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL + "/"
	tb.Cleanup(func() {
		s.srv.Close()
		s.wg.Wait()
	})
	return s
}

// Add lists a delivery attempt; ID is assigned when zero. Deliveries are
// listed newest first by DeliveredAt.
func (s *Server) Add(d Delivery) Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.add(d)
}

func (s *Server) add(d Delivery) Delivery {
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

// Redelivered lists the GUIDs whose redelivery was accepted, in order.
func (s *Server) Redelivered() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.redelivered...)
}

// Refused lists the GUIDs whose redelivery was refused (422), in order.
func (s *Server) Refused() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.refused...)
}

// Posts lists when each redelivery request came (accepted or not), by
// the fake's clock.
func (s *Server) Posts() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.posts...)
}

// Wait waits until the redeliveries accepted so far have been made and
// recorded as attempts (listed after the list delay).
func (s *Server) Wait() { s.wg.Wait() }

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

// FailRedeliver makes the next n redelivery requests answer 502.
func (s *Server) FailRedeliver(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failPost = n
}

// Refuse makes every redelivery of guid answer 422, as GitHub does for a
// delivery it will not redeliver.
func (s *Server) Refuse(guid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse[guid] = true
}

// SetRedeliveryStatus sets the status code redeliveries are listed with.
func (s *Server) SetRedeliveryStatus(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.redeliveryStatus = code
}

// SetResend makes a redelivery do what GitHub does: send the delivery to
// the webhook again (fn POSTs it and returns the answer's status code, which
// the new attempt records). It runs after the 202, as GitHub's does.
func (s *Server) SetResend(fn func(d Delivery) int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resend = fn
}

// SetClock sets GitHub's clock (default time.Now): the JWT's time claims,
// retention, listing delays and the Date header follow it.
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// SetListDelay sets how long after it was made a redelivery attempt is
// listed (default 1 s).
func (s *Server) SetListDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.listDelay = d
}

// SetRetention sets how old a delivery may be and still be redelivered
// (default 72 h), and how long after that the list still shows it
// (default 1 h).
func (s *Server) SetRetention(retention, purgeLag time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.retention, s.purgeLag = retention, purgeLag
}

// SetRateLimit sets the primary rate limit: limit requests until reset,
// of which used are spent.
func (s *Server) SetRateLimit(limit, used int, reset time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rate = rateLimit{limit: limit, used: used, reset: reset}
}

// SetSecondaryLimit allows at most perMinute redelivery requests in any
// minute (0 = no limit); more are answered status (403 or 429) with
// Retry-After: retryAfter.
func (s *Server) SetSecondaryLimit(perMinute, status int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secondary.perMinute, s.secondary.status, s.secondary.retryAfter = perMinute, status, retryAfter
}

// SecondaryLimitNext answers the next n requests (of either endpoint)
// status (403 or 429) with Retry-After: retryAfter.
func (s *Server) SecondaryLimitNext(n, status int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secondary.next, s.secondary.status, s.secondary.retryAfter = n, status, retryAfter
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
// issued for the App, issued in the past and not expired by GitHub's
// clock, at most 10 minutes long. It then spends one request of the rate
// limit and applies the secondary limit.
func (s *Server) auth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		now := s.now()
		s.mu.Unlock()
		w.Header().Set("Date", now.UTC().Format(http.TimeFormat))
		if msg := s.checkJWT(r, now); msg != "" {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"message": msg, "documentation_url": docREST, "status": "401"})
			return
		}
		if !s.limit(w, r, now) {
			return
		}
		next(w, r)
	}
}

// checkJWT returns GitHub's message for a JWT it refuses, "" for a good one.
func (s *Server) checkJWT(r *http.Request, now time.Time) string {
	const undecodable = "A JSON web token could not be decoded"
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return undecodable
	}
	claims := &jwt.RegisteredClaims{}
	// The time claims are checked below against GitHub's clock, not the
	// test's.
	parser := jwt.NewParser(jwt.WithoutClaimsValidation(), jwt.WithValidMethods([]string{jwt.SigningMethodRS256.Alg()}))
	tok, err := parser.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) { return &s.key.PublicKey, nil })
	switch {
	case err != nil || !tok.Valid || claims.Issuer != strconv.FormatInt(s.AppID, 10):
		return undecodable
	case claims.IssuedAt == nil || claims.IssuedAt.After(now):
		return MessageIssuedAt
	case claims.ExpiresAt == nil || !claims.ExpiresAt.After(now):
		return MessageExpired
	case claims.ExpiresAt.Sub(now) > 10*time.Minute || claims.ExpiresAt.Sub(claims.IssuedAt.Time) > 10*time.Minute:
		return MessageExpiresLate
	}
	return ""
}

// limit spends one request of the primary rate limit, sets the
// X-RateLimit-* headers, and answers a request over the primary or a
// secondary limit; ok is false when it did.
func (s *Server) limit(w http.ResponseWriter, r *http.Request, now time.Time) (ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rate.reset.IsZero() || !now.Before(s.rate.reset) {
		s.rate.used, s.rate.reset = 0, now.Add(time.Hour).Truncate(time.Second)
	}
	exhausted := s.rate.used >= s.rate.limit
	if !exhausted {
		s.rate.used++
	}
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(s.rate.limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(s.rate.limit-s.rate.used))
	h.Set("X-RateLimit-Used", strconv.Itoa(s.rate.used))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(s.rate.reset.Unix(), 10))
	h.Set("X-RateLimit-Resource", "core")
	if exhausted {
		writeJSON(w, http.StatusForbidden, map[string]string{"message": fmt.Sprintf("API rate limit exceeded for app ID %d.", s.AppID),
			"documentation_url": DocRateLimit})
		return false
	}
	over := s.secondary.next > 0
	if over {
		s.secondary.next--
	} else if r.Method == http.MethodPost && s.secondary.perMinute > 0 {
		n := 0
		for _, t := range s.posts {
			if now.Sub(t) < time.Minute {
				n++
			}
		}
		over = n >= s.secondary.perMinute
	}
	if r.Method == http.MethodPost {
		s.posts = append(s.posts, now)
	}
	if over {
		h.Set("Retry-After", strconv.Itoa(int(s.secondary.retryAfter.Seconds())))
		writeJSON(w, s.secondary.status, map[string]string{
			"message":           "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
			"documentation_url": DocSecondaryLimit})
		return false
	}
	return true
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
	all := s.newestFirst()
	start := 0
	if c := r.URL.Query().Get("cursor"); c != "" {
		after, err := strconv.ParseInt(strings.TrimPrefix(c, "v1_"), 10, 64)
		if err != nil {
			writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "Invalid cursor", "documentation_url": docREST})
			return
		}
		for start < len(all) && all[start].ID != after {
			start++
		}
		start++
	}
	now := s.now()
	page := []Delivery{}
	i := start
	for ; i < len(all) && len(page) < perPage; i++ {
		if s.listed(all[i], now) {
			page = append(page, all[i])
		}
	}
	more := false
	for j := i; j < len(all) && !more; j++ {
		more = s.listed(all[j], now)
	}
	if more {
		next := fmt.Sprintf("%sapp/hook/deliveries?per_page=%d&cursor=v1_%d", s.URL, perPage, page[len(page)-1].ID)
		w.Header().Set("Link", fmt.Sprintf(`<%s>; rel="next"`, next))
	}
	writeJSON(w, http.StatusOK, page)
}

// listed says whether the list shows d at now: once its ListedAt has
// come, until it is purged.
func (s *Server) listed(d Delivery, now time.Time) bool {
	return !d.ListedAt.After(now) && now.Sub(d.DeliveredAt) <= s.retention+s.purgeLag
}

// newestFirst orders every delivery (listed or not) as GitHub lists them:
// newest first, the later id first within a second.
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
	now := s.now()
	if s.failPost > 0 {
		s.failPost--
		s.mu.Unlock()
		writeJSON(w, http.StatusBadGateway, map[string]string{"message": "Server Error"})
		return
	}
	var orig *Delivery
	for i := range s.deliveries {
		if s.deliveries[i].ID == id {
			orig = &s.deliveries[i]
		}
	}
	if orig == nil || s.refuse[orig.GUID] || now.Sub(orig.DeliveredAt) > s.retention {
		if orig != nil {
			s.refused = append(s.refused, orig.GUID)
		}
		s.mu.Unlock()
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "Validation Failed",
			"errors": []map[string]string{{"resource": "HookDelivery", "code": "custom", "field": "delivery_id",
				"message": "this delivery cannot be redelivered (too old or unknown)"}},
			"documentation_url": DocRedeliver, "status": "422"})
		return
	}
	d := *orig
	s.redelivered = append(s.redelivered, d.GUID)
	code, resend := s.redeliveryStatus, s.resend
	s.wg.Add(1)
	s.mu.Unlock()
	writeJSON(w, http.StatusAccepted, map[string]any{})
	// GitHub answers 202 and makes the attempt afterwards; the attempt is
	// listed some time after it was made.
	go func() {
		defer s.wg.Done()
		if resend != nil {
			code = resend(d)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		at := s.now().UTC()
		d.ID, d.Redelivery, d.StatusCode, d.Status = 0, true, code, ""
		d.DeliveredAt, d.ListedAt = at.Truncate(time.Second), at.Add(s.listDelay)
		s.add(d)
	}()
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
