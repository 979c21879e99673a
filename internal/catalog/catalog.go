// Package catalog holds the provider catalog: one declarative entry per
// provider (auth mode, URLs, scopes, objects, config fields, tier, limits),
// embedded as JSON and validated at load.
package catalog

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

//go:embed providers.json
var providersJSON []byte

// Auth modes.
const (
	AuthOAuth2 = "oauth2"
	AuthAPIKey = "api_key"
	AuthNone   = "none"
)

// Tiers.
const (
	TierStandard = "standard"
	TierPremium  = "premium"
)

// Scope is one permission a provider grants.
type Scope struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Access      string `json:"access"` // read, write, delete
	Required    bool   `json:"required,omitempty"`
	Typical     bool   `json:"typical,omitempty"` // part of the set a typical user grants
}

// Object is a kind of record a provider offers.
type Object struct {
	Name        string   `json:"name"`
	ReadScope   string   `json:"read_scope,omitempty"`
	WriteScope  string   `json:"write_scope,omitempty"`
	MatchFields []string `json:"match_fields,omitempty"`
	Fields      []string `json:"fields"`
	// AnyFields says outbound syncs may send fields of any name (a webhook
	// destination's payload); Fields then lists none.
	AnyFields bool `json:"any_fields,omitempty"`
	// WriteOnly says records can be pushed but not read (a webhook
	// destination): inbound syncs of the object are refused.
	WriteOnly bool `json:"write_only,omitempty"`
}

// Lookup is an enrichment call a data provider offers.
type Lookup struct {
	Name    string   `json:"name"`
	Inputs  []string `json:"inputs"`
	Outputs []string `json:"outputs"`
}

// ConfigField is a provider-specific setting asked for at connect time.
type ConfigField struct {
	Name        string `json:"name"`
	Label       string `json:"label"`
	Description string `json:"description,omitempty"`
	Required    bool   `json:"required"`
	Pattern     string `json:"pattern,omitempty"`
	// Account marks a field whose value names the provider account (a HubSpot
	// portal, a Shopify store): the account that signs in must be that one.
	Account bool `json:"account,omitempty"`
	// Host marks a field whose value is a host name: a pasted URL
	// (https://acme.myshopify.com/) is reduced to its lower-cased host.
	Host bool `json:"host,omitempty"`
}

// URLs are the provider's endpoints. Revoke may hold {refresh_token} or
// {access_token}. Any URL may hold {name} placeholders naming a config field
// (a per-store host such as https://{shop}/admin/oauth/authorize), filled from
// the connection's config by Resolve; API may also hold placeholders the
// connector fills from the account (Mailchimp's data centre, {dc}).
type URLs struct {
	Authorize string `json:"authorize,omitempty"`
	Token     string `json:"token,omitempty"`
	Revoke    string `json:"revoke,omitempty"`
	API       string `json:"api,omitempty"`
	// Identity is an account-lookup endpoint outside the API base, for
	// providers whose API host is only known after it (Mailchimp's OAuth metadata).
	Identity string `json:"identity,omitempty"`
	Docs     string `json:"docs,omitempty"`
}

// API authentication styles.
const (
	APIAuthBearer = "bearer" // Authorization: Bearer <token> (the default)
	APIAuthBasic  = "basic"  // HTTP Basic with any user name and the key as password
	APIAuthHeader = "header" // <Header>: <Prefix><token>
)

// APIAuth says how credentials travel on API requests; the zero value is a
// bearer token in the Authorization header.
type APIAuth struct {
	Style  string `json:"style,omitempty"`
	Header string `json:"header,omitempty"`
	Prefix string `json:"prefix,omitempty"`
}

// RateLimit is the provider's documented request limit per account.
type RateLimit struct {
	Requests int    `json:"requests"`
	Period   string `json:"period"`
	Docs     string `json:"docs,omitempty"`
	// Per names what the limit counts when it is not the whole connection: a
	// connector tags each request with a key of that kind (e.g. "base" at
	// Airtable, 5 requests per second per base) and the limit applies per key.
	Per string `json:"per,omitempty"`
	// Concurrency caps simultaneous requests per connection (Mailchimp allows
	// 10 open connections per account); 0 means no cap.
	Concurrency int `json:"concurrency,omitempty"`
	// Cost is a points bucket for providers that meter by query cost rather
	// than by request count (Shopify's GraphQL Admin API).
	Cost *CostLimit `json:"cost,omitempty"`
	// Keyed are further limits on the requests a connector tags with their
	// key, spent as well as the main one (HubSpot's search limit: "search").
	Keyed map[string]Window `json:"keyed,omitempty"`
}

// Window is a further limit of Requests per Period.
type Window struct {
	Requests int    `json:"requests"`
	Period   string `json:"period"`
}

// PeriodDuration parses Period.
func (w Window) PeriodDuration() time.Duration {
	d, _ := time.ParseDuration(w.Period) // validated at load
	return d
}

// CostLimit is a leaky bucket of cost points: Bucket points at most, refilled
// at RestorePerSecond.
type CostLimit struct {
	Bucket           float64 `json:"bucket"`
	RestorePerSecond float64 `json:"restore_per_second"`
}

// PeriodDuration parses Period.
func (r RateLimit) PeriodDuration() time.Duration {
	d, _ := time.ParseDuration(r.Period) // validated at load
	return d
}

// Provider is one catalog entry.
type Provider struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	Description string  `json:"description"`
	Auth        string  `json:"auth"`
	Tier        string  `json:"tier"`
	PKCE        bool    `json:"pkce,omitempty"`
	TokenAuth   string  `json:"token_auth,omitempty"` // "params" (default: client id and secret in the form) or "header" (HTTP Basic)
	URLs        URLs    `json:"urls"`
	APIAuth     APIAuth `json:"api_auth,omitzero"`
	// ScopeSeparator joins scopes in the authorize URL; default a space
	// (RFC 6749), "," for providers such as Shopify.
	ScopeSeparator string        `json:"scope_separator,omitempty"`
	Scopes         []Scope       `json:"scopes"`
	Objects        []Object      `json:"objects"`
	Lookups        []Lookup      `json:"lookups,omitempty"`
	ConfigFields   []ConfigField `json:"config_fields"`
	RateLimit      RateLimit     `json:"rate_limit"`
	BatchSize      int           `json:"batch_size"`
	PageSize       int           `json:"page_size"`

	// APIBaseFromToken names the token-response field that holds the API base
	// URL of the connection (Salesforce's instance_url), for providers whose
	// API host differs per account; urls.api is then not used.
	APIBaseFromToken string `json:"api_base_from_token,omitempty"`

	// SigningSecret says a connection signs what Patchbay sends it: connect
	// generates a secret, stores it encrypted like credentials, shows it once
	// and never again (webhook destinations, for the receiver to verify).
	SigningSecret bool `json:"signing_secret,omitempty"`
}

// Scope returns the scope named name.
func (p *Provider) Scope(name string) (Scope, bool) {
	i := slices.IndexFunc(p.Scopes, func(s Scope) bool { return s.Name == name })
	if i < 0 {
		return Scope{}, false
	}
	return p.Scopes[i], true
}

// Object returns the object named name.
func (p *Provider) Object(name string) (Object, bool) {
	i := slices.IndexFunc(p.Objects, func(o Object) bool { return o.Name == name })
	if i < 0 {
		return Object{}, false
	}
	return p.Objects[i], true
}

// DefaultScopes are the scopes requested when the user picks none: the
// required ones and the typical ones.
func (p *Provider) DefaultScopes() []string {
	var out []string
	for _, s := range p.Scopes {
		if s.Required || s.Typical {
			out = append(out, s.Name)
		}
	}
	return out
}

// FieldError names one invalid config field.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// NormalizeConfig returns a copy of connect-time settings with each value
// trimmed and each host field reduced to its lower-cased host name, so what
// people paste from the browser's address bar is what is stored.
func (p *Provider) NormalizeConfig(cfg map[string]string) map[string]string {
	if cfg == nil {
		return nil
	}
	out := make(map[string]string, len(cfg))
	for k, v := range cfg {
		v = strings.TrimSpace(v)
		if i := slices.IndexFunc(p.ConfigFields, func(f ConfigField) bool { return f.Name == k }); i >= 0 && p.ConfigFields[i].Host {
			if _, rest, ok := strings.Cut(v, "://"); ok {
				v = rest
			}
			if i := strings.IndexAny(v, "/?#"); i >= 0 {
				v = v[:i]
			}
			v = strings.ToLower(v)
		}
		out[k] = v
	}
	return out
}

// ValidateConfig checks connect-time settings against the entry's config
// fields: required ones present, patterns matched, unknown ones refused.
func (p *Provider) ValidateConfig(cfg map[string]string) []FieldError {
	var errs []FieldError
	for _, f := range p.ConfigFields {
		v := strings.TrimSpace(cfg[f.Name])
		switch {
		case v == "" && f.Required:
			errs = append(errs, FieldError{"config." + f.Name, fmt.Sprintf("%s is required for %s: %s", f.Label, p.Name, f.Description)})
		case v != "" && f.Pattern != "" && !regexp.MustCompile(f.Pattern).MatchString(v):
			errs = append(errs, FieldError{"config." + f.Name, fmt.Sprintf("%q is not a valid %s: %s", v, f.Label, f.Description)})
		}
	}
	for k := range cfg {
		if !slices.ContainsFunc(p.ConfigFields, func(f ConfigField) bool { return f.Name == k }) {
			errs = append(errs, FieldError{"config." + k, fmt.Sprintf("%s takes no setting %q", p.Name, k)})
		}
	}
	slices.SortFunc(errs, func(a, b FieldError) int { return strings.Compare(a.Field, b.Field) })
	return errs
}

// Catalog is the loaded, validated set of providers, in catalog order.
type Catalog struct {
	list []*Provider
	byID map[string]*Provider
}

// Load parses and validates the embedded catalog.
func Load() (*Catalog, error) { return Parse(providersJSON) }

// Parse parses and validates a catalog document.
func Parse(data []byte) (*Catalog, error) {
	var doc struct {
		Providers []*Provider `json:"providers"`
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	c := &Catalog{byID: map[string]*Provider{}}
	for i, p := range doc.Providers {
		if err := validate(p); err != nil {
			return nil, fmt.Errorf("catalog entry %d (%q): %w", i, p.ID, err)
		}
		if _, dup := c.byID[p.ID]; dup {
			return nil, fmt.Errorf("catalog: provider %q listed twice", p.ID)
		}
		c.byID[p.ID] = p
		c.list = append(c.list, p)
	}
	return c, nil
}

var idPattern = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

func validate(p *Provider) error {
	if !idPattern.MatchString(p.ID) {
		return fmt.Errorf("id must match %s", idPattern)
	}
	if p.Name == "" {
		return fmt.Errorf("name is empty")
	}
	if !slices.Contains([]string{AuthOAuth2, AuthAPIKey, AuthNone}, p.Auth) {
		return fmt.Errorf("auth %q is not oauth2, api_key or none", p.Auth)
	}
	if p.Tier != TierStandard && p.Tier != TierPremium {
		return fmt.Errorf("tier %q is not standard or premium", p.Tier)
	}
	if p.Auth == AuthOAuth2 {
		urls := map[string]string{"authorize": p.URLs.Authorize, "token": p.URLs.Token, "api": p.URLs.API}
		if p.APIBaseFromToken != "" {
			delete(urls, "api") // the API host comes with each token
		}
		for name, u := range urls {
			if pu, err := parseTemplate(u); err != nil || pu.Scheme != "https" || pu.Host == "" {
				return fmt.Errorf("oauth2 provider needs an https %s URL, got %q", name, u)
			}
		}
	}
	if err := validateTemplates(p); err != nil {
		return err
	}
	switch p.APIAuth.Style {
	case "", APIAuthBearer, APIAuthBasic:
	case APIAuthHeader:
		if p.APIAuth.Header == "" {
			return fmt.Errorf("api_auth style header needs a header name")
		}
	default:
		return fmt.Errorf("api_auth style %q is not bearer, basic or header", p.APIAuth.Style)
	}
	if c := p.RateLimit.Cost; c != nil && (c.Bucket <= 0 || c.RestorePerSecond <= 0) {
		return fmt.Errorf("rate_limit.cost needs a bucket and a restore_per_second above 0")
	}
	seen := map[string]bool{}
	for _, s := range p.Scopes {
		if s.Name == "" || s.Description == "" {
			return fmt.Errorf("scope %q needs a name and a plain-language description", s.Name)
		}
		if !slices.Contains([]string{"read", "write", "delete"}, s.Access) {
			return fmt.Errorf("scope %q access %q is not read, write or delete", s.Name, s.Access)
		}
		if seen[s.Name] {
			return fmt.Errorf("scope %q listed twice", s.Name)
		}
		seen[s.Name] = true
	}
	for _, o := range p.Objects {
		if o.Name == "" {
			return fmt.Errorf("object without a name")
		}
		for _, s := range []string{o.ReadScope, o.WriteScope} {
			if s != "" && !seen[s] {
				return fmt.Errorf("object %q names unknown scope %q", o.Name, s)
			}
		}
	}
	for _, f := range p.ConfigFields {
		if f.Name == "" || f.Label == "" {
			return fmt.Errorf("config field %q needs a name and a label", f.Name)
		}
		if _, err := regexp.Compile(f.Pattern); err != nil {
			return fmt.Errorf("config field %q pattern: %w", f.Name, err)
		}
	}
	if d, err := time.ParseDuration(p.RateLimit.Period); err != nil || d <= 0 || p.RateLimit.Requests <= 0 {
		return fmt.Errorf("rate_limit needs requests > 0 and a period like \"10s\", got %+v", p.RateLimit)
	}
	for k, w := range p.RateLimit.Keyed {
		if d, err := time.ParseDuration(w.Period); err != nil || d <= 0 || w.Requests <= 0 || k == "" {
			return fmt.Errorf("rate_limit.keyed %q needs requests > 0 and a period like \"1s\", got %+v", k, w)
		}
	}
	if p.RateLimit.Per != "" && len(p.RateLimit.Keyed) > 0 {
		return fmt.Errorf("rate_limit has both per and keyed limits; a request carries one key")
	}
	if p.TokenAuth != "" && p.TokenAuth != "params" && p.TokenAuth != "header" {
		return fmt.Errorf("token_auth %q is not params or header", p.TokenAuth)
	}
	if p.BatchSize <= 0 {
		return fmt.Errorf("batch_size must be at least 1")
	}
	return nil
}

// All returns the providers in catalog order.
func (c *Catalog) All() []*Provider { return c.list }

// Get returns a provider by id.
func (c *Catalog) Get(id string) (*Provider, bool) {
	p, ok := c.byID[id]
	return p, ok
}

// Rebase points a provider's URLs at another base (a local fake): each URL
// keeps its path and takes base's scheme, host and path prefix. It returns a copy.
func (p *Provider) Rebase(base string) *Provider {
	cp := *p
	rb := func(u string) string {
		if u == "" {
			return ""
		}
		// Split by hand rather than with url.Parse: the host may be a
		// placeholder ({shop}), which the fake's single host replaces.
		_, rest, ok := strings.Cut(u, "://")
		if !ok {
			return u
		}
		path := ""
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			path = rest[i:]
		}
		return strings.TrimSuffix(base, "/") + path
	}
	cp.URLs.Authorize = rb(p.URLs.Authorize)
	cp.URLs.Token = rb(p.URLs.Token)
	cp.URLs.Revoke = rb(p.URLs.Revoke)
	cp.URLs.API = rb(p.URLs.API)
	cp.URLs.Identity = rb(p.URLs.Identity)
	if cp.URLs.API == "" && p.Auth == AuthOAuth2 {
		cp.URLs.API = strings.TrimSuffix(base, "/")
	}
	return &cp
}

// WithProvider returns a catalog in which p replaces the entry with the same id.
func (c *Catalog) WithProvider(p *Provider) *Catalog {
	out := &Catalog{byID: map[string]*Provider{}}
	for _, q := range c.list {
		if q.ID == p.ID {
			q = p
		}
		out.list = append(out.list, q)
		out.byID[q.ID] = q
	}
	return out
}
