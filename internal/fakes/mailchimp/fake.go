// Package mailchimp is a local fake of Mailchimp's Marketing API for tests
// and `patchbay demo`: OAuth 2 (consent, token, the metadata call that names
// the data centre), API keys of the form <key>-<dc>, audiences (lists), their
// members with offset paging, merge fields and tags, upsert by subscriber
// hash, batch operations with their gzipped tar of results, Mailchimp's
// problem JSON errors and its limit of 10 simultaneous connections per
// account. It is rooted at "/": the OAuth paths of login.mailchimp.com and the
// /3.0/ paths of every data centre's API host are served side by side, so a
// real URL rebased onto the fake's base works. The control surface of
// shared/API.md is at /_control/; members are seeded as object
// "members:<list id>", audiences as object "audiences".
package mailchimp

import (
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"net/http"
	"strings"
	"sync"
	"time"

	"patchbay/internal/fakes/fakekit"
)

// MaxConnections is Mailchimp's documented limit of simultaneous connections per account.
const MaxConnections = 10

// Options configure a Fake; the zero value is a working fake.
type Options struct {
	ClientID       string
	ClientSecret   string
	RedirectURIs   []string
	Now            func() time.Time
	DefaultAccount string // default "acct-demo"
	// Latency is how long each API call takes to answer, so that clients'
	// concurrency shows; 0 answers at once.
	Latency time.Duration
	// MaxConnections overrides MaxConnections (simultaneous calls per account).
	MaxConnections int
	// HTTP posts list webhooks; default a client with a 10 s timeout.
	HTTP *http.Client
	// RetryWaits are the waits before redelivering a failed webhook;
	// default fakekit.DefaultRetryWaits.
	RetryWaits []time.Duration
}

// Fake is the Mailchimp fake; it is an http.Handler.
type Fake struct {
	o     Options
	kit   *fakekit.Kit
	mux   *http.ServeMux
	inner *http.ServeMux // API routes for batch operations

	mu        sync.Mutex
	inFlight  map[string]int
	conc      ConcurrencyStats
	suspended map[string]bool
	batches   map[string]*batch
	hooks     *webhookState
}

// ConcurrencyStats count simultaneous calls, as GET /_control/concurrency returns them.
type ConcurrencyStats struct {
	MaxInFlight int   `json:"max_in_flight"` // most simultaneous calls seen for one account
	Refused     int64 `json:"refused"`       // calls answered 429 for exceeding the limit
}

// New returns a Fake with its default account and one audience in it.
func New(o Options) *Fake {
	if o.MaxConnections <= 0 {
		o.MaxConnections = MaxConnections
	}
	f := &Fake{o: o, mux: http.NewServeMux(), inner: http.NewServeMux(), inFlight: map[string]int{}, suspended: map[string]bool{}, batches: map[string]*batch{},
		hooks: newWebhookState(o)}
	f.kit = fakekit.New(fakekit.Options{
		Name:           "Mailchimp",
		Now:            o.Now,
		DefaultAccount: o.DefaultAccount,
		ClientID:       o.ClientID,
		ClientSecret:   o.ClientSecret,
		RedirectURIs:   o.RedirectURIs,
		APIKeys:        true, // Mailchimp's OAuth tokens never expire and come without refresh tokens
		TokenPrefix:    "mc-",
		Credential:     credential,
		SeedID:         seedID,
		OnChange:       f.onChange,
		Errors: fakekit.Errors{
			Unauthorized: func(w http.ResponseWriter, _ *http.Request, _ fakekit.AuthFailure) {
				problem(w, http.StatusUnauthorized, "API Key Invalid", "Your API key may be invalid, or you've attempted to access the wrong datacenter.")
			},
			Unavailable: func(w http.ResponseWriter, _ *http.Request) {
				problem(w, http.StatusServiceUnavailable, "Service Unavailable", "Mailchimp is temporarily unavailable; please try again later.")
			},
			Token: func(w http.ResponseWriter, _ *http.Request, e *fakekit.OAuthError) {
				fakekit.WriteJSON(w, e.Status, map[string]string{"error": e.Code, "error_description": e.Description})
			},
		},
		TokenResponse: func(t fakekit.TokenSet) any {
			return map[string]any{"access_token": t.AccessToken, "expires_in": 0, "scope": nil}
		},
	})
	f.routes()
	f.kit.Records(f.kit.DefaultAccount(), "audiences").Seed([]map[string]any{{"name": "Newsletter"}})
	return f
}

func (f *Fake) routes() {
	f.kit.Routes(f.mux, fakekit.OAuthPaths{Authorize: "/oauth2/authorize", Token: "/oauth2/token"})
	f.mux.HandleFunc("GET /oauth2/metadata", f.metadata)
	f.mux.HandleFunc("GET /_control/concurrency", func(w http.ResponseWriter, r *http.Request) {
		fakekit.WriteJSON(w, http.StatusOK, f.Concurrency())
	})
	f.mux.HandleFunc("POST /_control/suspend", f.controlSuspend)
	f.mux.HandleFunc("GET /_results/{id}", f.batchResults)

	// Every API route is also on the inner mux, without the /3.0 prefix and
	// the guard, for the operations of a batch (which run on Mailchimp's side
	// and do not count as connections).
	api := func(pattern string, h func(http.ResponseWriter, *http.Request, fakekit.Call)) {
		method, path, _ := strings.Cut(pattern, " ")
		f.mux.Handle(method+" /3.0"+path, f.guard(h))
		f.inner.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			h(w, r, r.Context().Value(callKey{}).(fakekit.Call))
		})
	}
	api("GET /{$}", f.root)
	api("GET /ping", f.ping)
	api("GET /lists", f.lists)
	api("GET /lists/{list}", f.getList)
	api("GET /lists/{list}/members", f.members)
	api("GET /lists/{list}/members/{hash}", f.getMember)
	api("PUT /lists/{list}/members/{hash}", f.putMember)
	api("POST /lists/{list}/members", f.addMember)
	api("PATCH /lists/{list}/members/{hash}", f.patchMember)
	api("POST /lists/{list}/members/{hash}/tags", f.memberTags)
	api("GET /lists/{list}/merge-fields", f.mergeFields)
	api("GET /lists/{list}/tag-search", f.tagSearch)
	api("POST /batches", f.createBatch)
	api("GET /batches/{id}", f.getBatch)
	f.webhookRoutes(api)
	f.mux.Handle("/3.0/", f.guard(func(w http.ResponseWriter, r *http.Request, _ fakekit.Call) {
		problem(w, http.StatusNotFound, "Resource Not Found", "The requested resource could not be found.")
	}))
}

// ServeHTTP serves Mailchimp's paths rooted at "/".
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) { f.mux.ServeHTTP(w, r) }

// Kit exposes the shared machinery.
func (f *Fake) Kit() *fakekit.Kit { return f.kit }

// Stats returns the kit's counters.
func (f *Fake) Stats() fakekit.Stats { return f.kit.Stats() }

// Concurrency returns the simultaneous-connection counters.
func (f *Fake) Concurrency() ConcurrencyStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.conc
}

// IssueToken returns an OAuth access token for account without the consent dance.
func (f *Fake) IssueToken(account string) string { return f.kit.IssueToken(account, nil).AccessToken }

// AddAPIKey registers key (which must end in -<dc>) for account.
func (f *Fake) AddAPIKey(account, key string) { f.kit.AddToken(account, key, nil) }

// NewAPIKey creates an API key for account in its data centre.
func (f *Fake) NewAPIKey(account string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	key := hex.EncodeToString(b) + "-" + DataCenter(account)
	f.AddAPIKey(account, key)
	return key
}

// Suspend disables an account: every call answers 403 as for a disabled user.
func (f *Fake) Suspend(account string, on bool) {
	f.mu.Lock()
	f.suspended[account] = on
	f.mu.Unlock()
}

// AddAudience creates an audience for account and returns its list id.
func (f *Fake) AddAudience(account, name string) string {
	return f.kit.Records(account, "audiences").Seed([]map[string]any{{"name": name}})[0].ID
}

// Audiences lists account's audiences.
func (f *Fake) Audiences(account string) []fakekit.Record {
	return f.kit.Records(account, "audiences").All()
}

// SeedMembers stores members (flat maps: email_address, status, merge field tags, tags) in a list.
func (f *Fake) SeedMembers(account, listID string, members []map[string]any) []fakekit.Record {
	return f.kit.Records(account, membersObject(listID)).Seed(members)
}

// Members returns what the fake holds for a list.
func (f *Fake) Members(account, listID string) []fakekit.Record {
	return f.kit.Records(account, membersObject(listID)).All()
}

func membersObject(listID string) string { return "members:" + listID }

// SubscriberHash is Mailchimp's member id: the MD5 of the lowercased e-mail address.
func SubscriberHash(email string) string {
	sum := md5.Sum([]byte(strings.ToLower(strings.TrimSpace(email))))
	return hex.EncodeToString(sum[:])
}

func seedID(object string, fields map[string]string) string {
	switch {
	case object == "audiences":
		return listID(fields["name"])
	case strings.HasPrefix(object, "members:"):
		if e := fields["email_address"]; e != "" {
			return SubscriberHash(e)
		}
	}
	return ""
}

// listID is a list id derived from its name: ten hex digits, like Mailchimp's.
func listID(name string) string {
	return fmt.Sprintf("%010x", uint64(hash("list:"+name))<<8|uint64(hash(name)&0xff))[:10]
}

// DataCenter is the data centre an account lives in ("us1" to "us21").
func DataCenter(account string) string { return fmt.Sprintf("us%d", hash("dc:"+account)%21+1) }

// AccountID is the account_id Mailchimp reports for account.
func AccountID(account string) string {
	return fmt.Sprintf("%08x%08x%08x%08x", hash("a:"+account), hash("b:"+account), hash("c:"+account), hash("d:"+account))[:25]
}

// LoginEmail is the e-mail of the user who signs in as account.
func LoginEmail(account string) string { return account + "@example.com" }

// AccountName is the organisation name of account.
func AccountName(account string) string { return "Org " + account }

func hash(s string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(s))
	return h.Sum32()
}

// credential reads an API key from HTTP Basic (any user name) or an OAuth
// token from "Authorization: OAuth <token>" or "Bearer <token>".
func credential(r *http.Request) string {
	if _, pw, ok := r.BasicAuth(); ok {
		return pw
	}
	h := r.Header.Get("Authorization")
	for _, p := range []string{"OAuth ", "Bearer ", "apikey "} {
		if len(h) > len(p) && strings.EqualFold(h[:len(p)], p) {
			return strings.TrimSpace(h[len(p):])
		}
	}
	return ""
}

// guard applies the kit's checks, then Mailchimp's own: a disabled account
// answers 403 and an account's 11th simultaneous call answers 429.
func (f *Fake) guard(h func(http.ResponseWriter, *http.Request, fakekit.Call)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := f.kit.Guard(w, r)
		if !ok {
			return
		}
		f.mu.Lock()
		if f.suspended[c.Account] {
			f.mu.Unlock()
			problem(w, http.StatusForbidden, "User Disabled", "This account has been disabled.")
			return
		}
		if f.inFlight[c.Account] >= f.o.MaxConnections {
			f.conc.Refused++
			f.mu.Unlock()
			problem(w, http.StatusTooManyRequests, "Too Many Requests",
				fmt.Sprintf("You have exceeded the limit of %d simultaneous connections.", f.o.MaxConnections))
			return
		}
		f.inFlight[c.Account]++
		f.conc.MaxInFlight = max(f.conc.MaxInFlight, f.inFlight[c.Account])
		f.mu.Unlock()
		defer func() {
			f.mu.Lock()
			f.inFlight[c.Account]--
			f.mu.Unlock()
		}()
		if f.o.Latency > 0 {
			select {
			case <-time.After(f.o.Latency):
			case <-r.Context().Done():
				return
			}
		}
		h(w, r, c)
	})
}

// problem writes Mailchimp's error document.
func problem(w http.ResponseWriter, status int, title, detail string, errs ...map[string]string) {
	body := map[string]any{
		"type":     "https://mailchimp.com/developer/marketing/docs/errors/",
		"title":    title,
		"status":   status,
		"detail":   detail,
		"instance": fakekit.CorrelationID(),
	}
	if len(errs) > 0 {
		body["errors"] = errs
	}
	w.Header().Set("Content-Type", "application/problem+json; charset=utf-8")
	w.WriteHeader(status)
	_ = jsonEncode(w, body)
}

// metadata is GET /oauth2/metadata: who the OAuth token belongs to and which
// data centre serves the account.
func (f *Fake) metadata(w http.ResponseWriter, r *http.Request) {
	if f.kit.CheckOutage(w, r) {
		return
	}
	info, failure := f.kit.Introspect(credential(r))
	if failure != "" {
		fakekit.WriteJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token", "error_description": "The access token is invalid or was revoked."})
		return
	}
	dc := DataCenter(info.Account)
	fakekit.WriteJSON(w, http.StatusOK, map[string]any{
		"dc": dc, "role": "owner", "accountname": AccountName(info.Account), "user_id": hash("user:" + info.Account),
		"login": map[string]any{
			"email": LoginEmail(info.Account), "avatar": nil, "login_id": hash("login:" + info.Account),
			"login_name": info.Account, "login_email": LoginEmail(info.Account),
		},
		"login_url":    "https://login.mailchimp.com",
		"api_endpoint": "https://" + dc + ".api.mailchimp.com",
	})
}

func (f *Fake) controlSuspend(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Account string `json:"account"`
		On      bool   `json:"on"`
	}
	if err := jsonDecode(r, &in); err != nil {
		fakekit.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	if in.Account == "" {
		in.Account = f.kit.DefaultAccount()
	}
	f.Suspend(in.Account, in.On)
	fakekit.WriteJSON(w, http.StatusOK, in)
}
