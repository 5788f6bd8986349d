package githubhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/insightpulse/pulsehub/events"
	"github.com/tidwall/gjson"
)

// Headers the ingester adds to a stored delivery, beside the envelope.
const (
	HeaderEvent          = "GitHub-Event"           // X-GitHub-Event
	HeaderDelivery       = "GitHub-Delivery"        // X-GitHub-Delivery (also ce-id)
	HeaderHookID         = "GitHub-Hook-Id"         // X-GitHub-Hook-ID
	HeaderInstallationID = "GitHub-Installation-Id" // the payload's installation.id
	HeaderRepository     = "GitHub-Repository"      // the payload's repository.full_name
)

// Content types GitHub delivers with.
const (
	ContentJSON = "application/json"
	ContentForm = "application/x-www-form-urlencoded"
)

// errMalformed is wrapped by every error about a body that is not a
// GitHub payload (400).
var errMalformed = errors.New("malformed payload")

// Delivery is one webhook delivery as received.
type Delivery struct {
	Event       string // X-GitHub-Event
	GUID        string // X-GitHub-Delivery
	HookID      string // X-GitHub-Hook-ID, "" when absent
	ContentType string // the media type the body was sent with
	Body        []byte // exactly as received
	Received    time.Time
}

// summary is what the ingester reads from a payload: the few fields that
// route and describe it. Everything else stays in the stored bytes.
type summary struct {
	action         string
	repoURL        string
	repoFullName   string
	orgURL         string
	installationID string
}

// The payload fields the envelope needs, in the order summarize returns them.
const (
	fieldAction = iota
	fieldRepoURL
	fieldRepoFullName
	fieldOrgURL
	fieldInstallationID
	fields
)

// summaryField keeps, from one member checkJSON visits, what the envelope
// needs: action, repository.html_url, repository.full_name,
// organization.url and installation.id, read in the pass that validates
// the payload (looking each path up with gjson walked the body five more
// times, the absent ones to its end: with the validation, a quarter of
// the ingester's CPU). Every leaf is raw, so a field of an unexpected type
// is ignored rather than refused. As with a gjson path, the first key that
// holds a field wins.
func summaryField(f *[fields]gjson.Result, depth int, parent, key, value []byte) {
	i := -1
	switch depth {
	case 1:
		if string(jsonKey(key)) == "action" {
			i = fieldAction
		}
	case 2:
		switch k := string(jsonKey(key)); string(jsonKey(parent)) {
		case "repository":
			switch k {
			case "html_url":
				i = fieldRepoURL
			case "full_name":
				i = fieldRepoFullName
			}
		case "organization":
			if k == "url" {
				i = fieldOrgURL
			}
		case "installation":
			if k == "id" {
				i = fieldInstallationID
			}
		}
	}
	if i >= 0 && !f[i].Exists() {
		f[i] = gjson.ParseBytes(value)
	}
}

// jsonKey is a raw (quoted) key's name: the bytes between the quotes, or
// the decoded name when it has escapes.
func jsonKey(raw []byte) []byte {
	if bytes.IndexByte(raw, '\\') < 0 {
		return raw[1 : len(raw)-1]
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return nil
	}
	return []byte(s)
}

// summarize validates doc (checkJSON) and reads the fields summaryField keeps.
func summarize(doc []byte) (f [fields]gjson.Result, err error) {
	err = checkJSON(doc, MaxDepth, func(depth int, parent, key, value []byte) { summaryField(&f, depth, parent, key, value) })
	return f, err
}

// parse checks that the body is a JSON object (inside a payload= form field
// for form deliveries) and reads its summary in one pass over the document.
func parse(contentType string, body []byte) (summary, error) {
	doc := body
	if contentType == ContentForm {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return summary{}, fmt.Errorf("%w: form body: %w", errMalformed, err)
		}
		if !form.Has("payload") {
			return summary{}, fmt.Errorf("%w: form body has no payload field", errMalformed)
		}
		doc = []byte(form.Get("payload"))
	}
	if d := bytes.TrimLeft(doc, " \t\r\n"); len(d) == 0 || d[0] != '{' {
		return summary{}, fmt.Errorf("%w: not a JSON object", errMalformed)
	}
	f, err := summarize(doc)
	switch {
	case errors.Is(err, errTooDeep):
		return summary{}, fmt.Errorf("%w: nested more than %d levels deep", errMalformed, MaxDepth)
	case err != nil:
		return summary{}, fmt.Errorf("%w: %w", errMalformed, err)
	}
	action, err := actionOf(f[fieldAction])
	if err != nil {
		return summary{}, err
	}
	return summary{
		action:         action,
		repoURL:        str(f[fieldRepoURL]),
		repoFullName:   str(f[fieldRepoFullName]),
		orgURL:         str(f[fieldOrgURL]),
		installationID: integer(f[fieldInstallationID]),
	}, nil
}

// MaxDepth bounds how deeply a payload's objects and arrays nest. gjson
// validated recursively, two stack frames a level: a signed body of 8 MiB
// of '[' took the goroutine's stack past Go's 1 GB limit, a fatal error
// that no recover catches, and the whole process died. checkJSON does not
// recurse, but the routes decode what is stored: 10,000 is
// encoding/json's own limit, so whatever the ingester stores, a route can
// decode.
const MaxDepth = 10000

// actionOf is the payload's action: a string of at most
// events.MaxNameLen bytes, since it becomes a subject token (any byte is
// escaped by events.Token); a longer one is refused rather than cut, so
// two actions never share a subject. Anything but a string is no action.
func actionOf(r gjson.Result) (string, error) {
	if r.Type != gjson.String {
		return "", nil
	}
	if err := events.CheckName("the payload's action", r.Str); err != nil {
		return "", fmt.Errorf("%w: %w", errMalformed, err)
	}
	return r.Str, nil
}

// str is a JSON string that fits in a header; anything else is "".
func str(r gjson.Result) string {
	if r.Type != gjson.String || !headerSafe(r.Str) {
		return ""
	}
	return r.Str
}

// integer reads a JSON integer exactly; anything else is "".
func integer(r gjson.Result) string {
	if r.Type != gjson.Number {
		return ""
	}
	if _, err := strconv.ParseInt(r.Raw, 10, 64); err != nil {
		return ""
	}
	return r.Raw
}

// headerSafe reports whether s can be a NATS header value: one line of
// printable text, not too long.
func headerSafe(s string) bool {
	if len(s) > 1024 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return false
		}
	}
	return true
}

// Subject is github.<event>.<action>.
func (s summary) subject(event string) string { return events.GitHubSubject(event, s.action) }

// source is the ce-source: the repository, else the organization, else
// the installation, else GitHub itself.
func (s summary) source() string {
	switch {
	case s.repoURL != "":
		return s.repoURL
	case s.orgURL != "":
		return s.orgURL
	case s.installationID != "":
		return "urn:github:installation:" + s.installationID
	}
	return "https://github.com"
}

// eventType is com.github.<event>.<action>, or com.github.<event> for a
// payload without an action.
func (s summary) eventType(event string) string {
	if s.action == "" {
		return "com.github." + events.Token(event)
	}
	return "com.github." + events.Token(event) + "." + events.Token(s.action)
}

// event builds the envelope: ce-id and correlation id are the delivery
// GUID, so a redelivery of the same delivery is stored once.
func (d Delivery) event(s summary) events.Event {
	h := make(map[string][]string, 5)
	vals := make([]string, 0, 5) // one array for the values (Msg copies them)
	set := func(k, v string) {
		if v != "" {
			vals = append(vals, v)
			h[k] = vals[len(vals)-1 : len(vals) : len(vals)]
		}
	}
	set(HeaderEvent, d.Event)
	set(HeaderDelivery, d.GUID)
	set(HeaderHookID, d.HookID)
	set(HeaderInstallationID, s.installationID)
	set(HeaderRepository, s.repoFullName)
	return events.Event{
		ID:            d.GUID,
		Source:        s.source(),
		Type:          s.eventType(d.Event),
		Time:          d.Received.UTC(),
		ContentType:   d.ContentType,
		CorrelationID: d.GUID,
		Header:        h,
		Data:          d.Body,
	}
}
