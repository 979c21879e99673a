package fakekit

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// codeTTL is how long an authorization code may be exchanged, as RFC 6749
// recommends (at most ten minutes).
const codeTTL = 10 * time.Minute

// AuthFailure says why a request's credentials were refused.
type AuthFailure string

// Reasons a bearer credential is refused.
const (
	AuthMissing AuthFailure = "missing" // no Authorization header
	AuthUnknown AuthFailure = "unknown" // never issued by this fake
	AuthExpired AuthFailure = "expired"
	AuthRevoked AuthFailure = "revoked"
)

// TokenInfo is what the fake knows about an access token.
type TokenInfo struct {
	Account  string
	Scopes   []string
	ClientID string
	Expiry   time.Time // zero for API keys
}

// TokenSet is a freshly issued credential. For API-key fakes AccessToken is
// the key and the other token fields are empty.
type TokenSet struct {
	AccessToken  string   `json:"access_token"`
	RefreshToken string   `json:"refresh_token,omitempty"`
	ExpiresIn    int      `json:"expires_in,omitempty"`
	Account      string   `json:"account"`
	Scopes       []string `json:"scopes"`
	// Refreshed is set when the set answers a refresh_token grant, for
	// providers whose refresh answers differ (Salesforce sends no refresh_token).
	Refreshed bool `json:"-"`
}

// OAuthError is a refusal of the token endpoint.
type OAuthError struct {
	Status      int    // 400, or 401 for client authentication
	Code        string // RFC 6749 error code (invalid_grant, invalid_client, ...)
	Reason      Reason // what exactly was wrong, for providers with finer codes
	Description string
}

// Reason details an OAuthError.
type Reason string

// Token endpoint refusal reasons.
const (
	ReasonBadRequest         Reason = "bad_request"
	ReasonBadGrantType       Reason = "bad_grant_type"
	ReasonBadClientID        Reason = "bad_client_id"
	ReasonBadClientSecret    Reason = "bad_client_secret"
	ReasonBadCode            Reason = "bad_auth_code"
	ReasonBadRedirectURI     Reason = "bad_redirect_uri"
	ReasonBadCodeVerifier    Reason = "bad_code_verifier"
	ReasonBadRefreshToken    Reason = "bad_refresh_token"
	ReasonRefreshTokenReused Reason = "refresh_token_reused"
)

type accessToken struct {
	TokenInfo
	revoked bool
	refresh string // the refresh token issued with it, or that it was refreshed with
}

type refreshToken struct {
	account  string
	scopes   []string
	clientID string
	revoked  bool
	retired  bool // rotated away: used once and replaced
}

type authCode struct {
	clientID    string
	redirectURI string
	account     string
	scopes      []string
	challenge   string
	method      string
	expiry      time.Time
}

// OAuthPaths name the OAuth endpoints of a provider; an empty path is not served.
type OAuthPaths struct {
	Authorize string // GET consent page, POST decision
	Token     string // POST token endpoint
}

// Routes mounts the OAuth endpoints at p and the control surface at
// /_control/ on mux (method and path patterns).
func (k *Kit) Routes(mux *http.ServeMux, p OAuthPaths) {
	if p.Authorize != "" {
		mux.HandleFunc("GET "+p.Authorize, k.consentPage)
		mux.HandleFunc("POST "+p.Authorize, k.consentDecision)
	}
	if p.Token != "" {
		mux.HandleFunc("POST "+p.Token, k.tokenEndpoint)
	}
	k.controlRoutes(mux)
}

// BaseURL is the URL at which the fake that serves r is mounted (scheme,
// host and any prefix stripped by http.StripPrefix), for answers that must
// name the fake's own URLs.
func BaseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	prefix := ""
	if u, err := url.ParseRequestURI(r.RequestURI); err == nil {
		prefix = strings.TrimSuffix(u.Path, r.URL.Path)
	}
	return scheme + "://" + r.Host + prefix
}

// bearer returns the token of an "Authorization: Bearer" header.
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

func (k *Kit) lookupLocked(token string, now time.Time) (TokenInfo, AuthFailure) {
	if token == "" {
		return TokenInfo{}, AuthMissing
	}
	t, ok := k.access[token]
	switch {
	case !ok:
		return TokenInfo{}, AuthUnknown
	case t.revoked:
		return TokenInfo{}, AuthRevoked
	case !t.Expiry.IsZero() && !now.Before(t.Expiry):
		return TokenInfo{}, AuthExpired
	}
	info := t.TokenInfo
	info.Scopes = slices.Clone(info.Scopes)
	return info, ""
}

// Introspect describes a live access token, or says why it is not one.
func (k *Kit) Introspect(token string) (TokenInfo, AuthFailure) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.lookupLocked(token, k.now())
}

// IssueToken creates credentials for account without the consent dance;
// nil scopes means every scope the fake knows.
func (k *Kit) IssueToken(account string, scopes []string) TokenSet {
	if scopes == nil {
		for _, s := range k.o.Scopes {
			scopes = append(scopes, s.Name)
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.issueLocked(account, scopes, k.o.ClientID, "", false)
}

// AddToken registers a fixed access token (a demo API key) for account.
func (k *Kit) AddToken(account, token string, scopes []string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.accountLocked(account)
	k.access[token] = &accessToken{TokenInfo: TokenInfo{Account: account, Scopes: slices.Clone(scopes)}}
}

// issueLocked mints an access token and, unless keepRefresh names the refresh
// token to hand back again, a new refresh token. refreshed says whether it
// answers a refresh rather than a new grant, for the counters.
func (k *Kit) issueLocked(account string, scopes []string, clientID, keepRefresh string, refreshed bool) TokenSet {
	a := k.accountLocked(account)
	ts := TokenSet{AccessToken: randomToken(k.o.TokenPrefix + "at-"), Account: account, Scopes: slices.Clone(scopes)}
	info := TokenInfo{Account: account, Scopes: slices.Clone(scopes), ClientID: clientID}
	if !k.o.APIKeys {
		info.Expiry = k.now().Add(k.o.AccessTTL)
		ts.ExpiresIn = int(k.o.AccessTTL / time.Second)
		ts.RefreshToken = keepRefresh
		if ts.RefreshToken == "" {
			ts.RefreshToken = randomToken(k.o.TokenPrefix + "rt-")
			k.refresh[ts.RefreshToken] = &refreshToken{account: account, scopes: slices.Clone(scopes), clientID: clientID}
		}
	}
	k.access[ts.AccessToken] = &accessToken{TokenInfo: info, refresh: ts.RefreshToken}
	ts.Refreshed = refreshed
	if refreshed {
		k.stats.TokensRefreshed++
		a.stats.TokensRefreshed++
	} else {
		k.stats.TokensIssued++
		a.stats.TokensIssued++
	}
	return ts
}

// RevokeRefreshToken deletes a refresh token (the provider's revoke endpoint);
// access tokens already issued keep working until they expire. It reports
// whether the token was known and alive.
func (k *Kit) RevokeRefreshToken(token string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	rt, ok := k.refresh[token]
	if !ok || rt.revoked {
		return false
	}
	rt.revoked = true
	return true
}

// RevokeToken revokes one token as RFC 7009 describes: an access token stops
// working; a refresh token dies with every access token issued from it. It
// reports whether the token was known and alive.
func (k *Kit) RevokeToken(token string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if at, ok := k.access[token]; ok && !at.revoked {
		at.revoked = true
		return true
	}
	rt, ok := k.refresh[token]
	if !ok || rt.revoked {
		return false
	}
	rt.revoked = true
	for _, at := range k.access {
		if at.refresh == token {
			at.revoked = true
		}
	}
	return true
}

// Revoke kills every credential of account: API calls answer 401 and
// refreshes invalid_grant, as when a user uninstalls the app.
func (k *Kit) Revoke(account string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, t := range k.access {
		if t.Account == account {
			t.revoked = true
		}
	}
	for _, rt := range k.refresh {
		if rt.account == account {
			rt.revoked = true
		}
	}
}

// Expire ends the life of account's access tokens now; refresh still works.
func (k *Kit) Expire(account string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.now()
	for _, t := range k.access {
		if t.Account == account {
			t.Expiry = now
		}
	}
}

// authorizeRequest is the query string of an authorize URL, checked.
type authorizeRequest struct {
	clientID, redirectURI, state string
	scopes                       []string
	challenge, method            string
}

var accountPattern = regexp.MustCompile(`^[A-Za-z0-9._@-]{1,64}$`)

func (k *Kit) parseAuthorize(q url.Values) (authorizeRequest, string) {
	req := authorizeRequest{
		clientID:    q.Get("client_id"),
		redirectURI: q.Get("redirect_uri"),
		state:       q.Get("state"),
		// Space-separated as RFC 6749 says, or comma-separated as Shopify has it.
		scopes:    strings.FieldsFunc(q.Get("scope")+" "+q.Get("optional_scope"), func(r rune) bool { return r == ' ' || r == ',' }),
		challenge: q.Get("code_challenge"),
		method:    q.Get("code_challenge_method"),
	}
	switch {
	case k.o.ClientID != "" && req.clientID != k.o.ClientID:
		return req, "Unknown client_id: the app is not registered with this provider."
	case req.redirectURI == "":
		return req, "redirect_uri is missing."
	case !k.redirectAllowed(req.redirectURI):
		return req, "redirect_uri does not match any URI registered for the app."
	case req.challenge != "" && req.method != "S256" && req.method != "plain" && req.method != "":
		return req, "code_challenge_method must be S256 or plain."
	case k.o.RequirePKCE && (req.challenge == "" || req.method != "S256"):
		return req, "code_challenge and code_challenge_method=S256 are required (PKCE)."
	}
	if u, err := url.Parse(req.redirectURI); err != nil || !u.IsAbs() {
		return req, "redirect_uri must be an absolute URL."
	}
	return req, ""
}

var consentTemplate = template.Must(template.New("consent").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Connect to {{.Name}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem}
li{margin:.4rem 0}.actions button{margin-right:.5rem;padding:.4rem 1rem}</style></head>
<body><h1>{{.Name}} (local fake)</h1>
<p>An app asks to connect to your {{.Name}} account with these permissions:</p>
<form method="post">
<input type="hidden" name="scope" value="">
<ul>{{range .Scopes}}<li><label><input type="checkbox" name="scope" value="{{.Name}}" checked> <code>{{.Name}}</code>{{if .Description}} — {{.Description}}{{end}}</label></li>{{else}}<li>No specific permissions.</li>{{end}}</ul>
<p><label>Sign in as account <input name="account" value="{{.Account}}" list="accounts"></label>
<datalist id="accounts">{{range .Accounts}}<option value="{{.}}">{{end}}</datalist></p>
<p class="actions"><button name="decision" value="approve">Approve</button><button name="decision" value="deny">Deny</button></p>
</form></body></html>
`))

func (k *Kit) consentPage(w http.ResponseWriter, r *http.Request) {
	req, problem := k.parseAuthorize(r.URL.Query())
	if problem != "" {
		http.Error(w, problem, http.StatusBadRequest)
		return
	}
	known := map[string]string{}
	for _, s := range k.o.Scopes {
		known[s.Name] = s.Description
	}
	data := struct {
		Name     string
		Scopes   []Scope
		Account  string
		Accounts []string
	}{Name: k.o.Name, Account: k.o.DefaultAccount, Accounts: k.Accounts()}
	if data.Name == "" {
		data.Name = "Provider"
	}
	for _, s := range req.scopes {
		data.Scopes = append(data.Scopes, Scope{Name: s, Description: known[s]})
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = consentTemplate.Execute(w, data)
}

// consentDecision answers the consent form, posted to the authorize URL with
// its query string intact, by redirecting to the app as the provider would.
func (k *Kit) consentDecision(w http.ResponseWriter, r *http.Request) {
	req, problem := k.parseAuthorize(r.URL.Query())
	if problem != "" {
		http.Error(w, problem, http.StatusBadRequest)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "unreadable form", http.StatusBadRequest)
		return
	}
	target, _ := url.Parse(req.redirectURI) // checked by parseAuthorize
	q := target.Query()
	switch r.PostForm.Get("decision") {
	case "deny":
		q.Set("error", "access_denied")
		q.Set("error_description", "The user denied the request.")
		k.mu.Lock()
		k.stats.Denials++
		k.mu.Unlock()
	case "approve":
		acct := strings.TrimSpace(r.PostForm.Get("account"))
		if acct == "" {
			acct = k.o.DefaultAccount
		}
		if !accountPattern.MatchString(acct) {
			http.Error(w, "account ids are 1-64 letters, digits, '.', '_', '@' or '-'", http.StatusBadRequest)
			return
		}
		q.Set("code", k.newCode(req, acct, grantedScopes(req.scopes, r.PostForm)))
	default:
		http.Error(w, "decision must be approve or deny", http.StatusBadRequest)
		return
	}
	if req.state != "" {
		q.Set("state", req.state)
	}
	if k.o.SignRedirect != nil && q.Get("code") != "" {
		k.o.SignRedirect(q, strings.TrimSpace(r.PostForm.Get("account")))
	}
	target.RawQuery = q.Encode()
	http.Redirect(w, r, target.String(), http.StatusFound)
}

// grantedScopes narrows the requested scopes to the posted subset, if the form
// carried one; the consent page always posts the field, possibly empty.
func grantedScopes(requested []string, form url.Values) []string {
	chosen, ok := form["scope"]
	if !ok {
		return requested
	}
	subset := strings.Fields(strings.Join(chosen, " "))
	return slices.DeleteFunc(slices.Clone(requested), func(s string) bool { return !slices.Contains(subset, s) })
}

func (k *Kit) newCode(req authorizeRequest, account string, scopes []string) string {
	code := randomToken(k.o.TokenPrefix + "code-")
	now := k.now()
	k.mu.Lock()
	defer k.mu.Unlock()
	for c, ac := range k.codes {
		if now.After(ac.expiry) {
			delete(k.codes, c)
		}
	}
	k.accountLocked(account)
	k.codes[code] = &authCode{
		clientID: req.clientID, redirectURI: req.redirectURI, account: account, scopes: scopes,
		challenge: req.challenge, method: req.method, expiry: now.Add(codeTTL),
	}
	k.stats.Authorizations++
	return code
}

func (k *Kit) tokenEndpoint(w http.ResponseWriter, r *http.Request) {
	k.mu.Lock()
	down := k.outage
	k.mu.Unlock()
	if down {
		k.unavailable(w, r)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	ts, oerr := k.grant(r)
	if oerr != nil {
		if k.o.Errors.Token != nil {
			k.o.Errors.Token(w, r, oerr)
			return
		}
		WriteJSON(w, oerr.Status, map[string]string{"error": oerr.Code, "error_description": oerr.Description})
		return
	}
	if k.o.TokenResponseFor != nil {
		WriteJSON(w, http.StatusOK, k.o.TokenResponseFor(r, ts))
		return
	}
	if k.o.TokenResponse != nil {
		WriteJSON(w, http.StatusOK, k.o.TokenResponse(ts))
		return
	}
	WriteJSON(w, http.StatusOK, map[string]any{
		"access_token": ts.AccessToken, "token_type": "bearer", "expires_in": ts.ExpiresIn,
		"refresh_token": ts.RefreshToken, "scope": strings.Join(ts.Scopes, " "),
	})
}

func oauthErr(status int, code string, reason Reason, desc string) *OAuthError {
	return &OAuthError{Status: status, Code: code, Reason: reason, Description: desc}
}

// grant runs the token endpoint: client authentication (HTTP Basic or form
// fields, as RFC 6749 allows both), then the grant.
func (k *Kit) grant(r *http.Request) (TokenSet, *OAuthError) {
	if err := r.ParseForm(); err != nil {
		return TokenSet{}, oauthErr(400, "invalid_request", ReasonBadRequest, "The request body is not a form.")
	}
	clientID, secret, basic := r.BasicAuth()
	if basic {
		// RFC 6749 §2.3.1: the credentials are form-encoded before Basic encoding.
		clientID, _ = url.QueryUnescape(clientID)
		secret, _ = url.QueryUnescape(secret)
	} else {
		clientID, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if k.o.ClientID != "" && clientID != k.o.ClientID {
		return TokenSet{}, oauthErr(401, "invalid_client", ReasonBadClientID, "missing or unknown client id")
	}
	if k.o.ClientSecret != "" && subtle.ConstantTimeCompare([]byte(secret), []byte(k.o.ClientSecret)) != 1 {
		return TokenSet{}, oauthErr(401, "invalid_client", ReasonBadClientSecret, "missing or invalid client secret")
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		return k.exchangeLocked(r.PostForm, clientID)
	case "refresh_token":
		return k.refreshLocked(r.PostForm.Get("refresh_token"), clientID)
	}
	return TokenSet{}, oauthErr(400, "unsupported_grant_type", ReasonBadGrantType, "grant_type must be authorization_code or refresh_token")
}

func (k *Kit) exchangeLocked(form url.Values, clientID string) (TokenSet, *OAuthError) {
	code := form.Get("code")
	c, ok := k.codes[code]
	delete(k.codes, code) // single use, whatever happens next
	switch {
	case !ok || k.now().After(c.expiry):
		return TokenSet{}, oauthErr(400, "invalid_grant", ReasonBadCode, "missing, expired or already used authorization code")
	case c.clientID != "" && clientID != "" && c.clientID != clientID:
		return TokenSet{}, oauthErr(400, "invalid_grant", ReasonBadCode, "the code was issued to another client")
	case form.Get("redirect_uri") != c.redirectURI:
		return TokenSet{}, oauthErr(400, "invalid_grant", ReasonBadRedirectURI, "redirect_uri differs from the one of the authorization request")
	case c.challenge != "" && !pkceMatches(c.challenge, c.method, form.Get("code_verifier")):
		return TokenSet{}, oauthErr(400, "invalid_grant", ReasonBadCodeVerifier, "code_verifier does not match the code_challenge")
	case c.challenge == "" && form.Get("code_verifier") != "":
		// RFC 9700 §4.8.2: a verifier for a code issued without a challenge
		// is a PKCE downgrade (an injected code): refuse it.
		return TokenSet{}, oauthErr(400, "invalid_grant", ReasonBadCodeVerifier, "code_verifier sent, but the authorization request had no code_challenge")
	}
	return k.issueLocked(c.account, c.scopes, clientID, "", false), nil
}

func pkceMatches(challenge, method, verifier string) bool {
	if verifier == "" {
		return false
	}
	want := verifier
	if method != "plain" {
		sum := sha256.Sum256([]byte(verifier))
		want = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	return subtle.ConstantTimeCompare([]byte(want), []byte(challenge)) == 1
}

func (k *Kit) refreshLocked(token, clientID string) (TokenSet, *OAuthError) {
	rt, ok := k.refresh[token]
	switch {
	case !ok || rt.revoked:
		return TokenSet{}, oauthErr(400, "invalid_grant", ReasonBadRefreshToken, "missing or invalid refresh token")
	case rt.retired:
		k.stats.RefreshTokensReused++
		return TokenSet{}, oauthErr(400, "invalid_grant", ReasonRefreshTokenReused, "refresh token was already used and has been replaced")
	case rt.clientID != "" && clientID != "" && rt.clientID != clientID:
		return TokenSet{}, oauthErr(400, "invalid_grant", ReasonBadRefreshToken, "the refresh token was issued to another client")
	}
	keep := token
	if k.o.RotateRefreshTokens {
		rt.retired = true
		keep = ""
	}
	return k.issueLocked(rt.account, rt.scopes, rt.clientID, keep, true), nil
}
