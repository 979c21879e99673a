package catalog

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
)

// placeholder is a {name} in a URL template.
var placeholder = regexp.MustCompile(`\{([a-z][a-z0-9_]*)\}`)

// credentialPlaceholders may appear in the revoke URL; the connector fills them.
var credentialPlaceholders = []string{"refresh_token", "access_token"}

// Placeholders lists the names of the {name} placeholders in u, in order.
func Placeholders(u string) []string {
	var out []string
	for _, m := range placeholder.FindAllStringSubmatch(u, -1) {
		out = append(out, m[1])
	}
	return out
}

// Expand fills the {name} placeholders of u whose name vars holds; the others
// stay as they are.
func Expand(u string, vars map[string]string) string {
	return placeholder.ReplaceAllStringFunc(u, func(m string) string {
		if v, ok := vars[m[1:len(m)-1]]; ok && v != "" {
			return v
		}
		return m
	})
}

// parseTemplate parses a URL template with a stand-in for each placeholder.
func parseTemplate(u string) (*url.URL, error) {
	return url.Parse(placeholder.ReplaceAllString(u, "x"))
}

// Resolve returns a copy of p whose URLs have their config placeholders
// filled from a connection's config (a Shopify store's own authorize, token
// and API URLs). Values reach URLs only through fields with a pattern, which
// validation makes sure of, so a config value cannot redirect a call elsewhere.
func (p *Provider) Resolve(cfg map[string]string) *Provider {
	vars := map[string]string{}
	for _, f := range p.ConfigFields {
		if v := cfg[f.Name]; v != "" && f.Pattern != "" && regexp.MustCompile(f.Pattern).MatchString(v) {
			vars[f.Name] = v
		}
	}
	if len(vars) == 0 {
		return p
	}
	cp := *p
	cp.URLs.Authorize = Expand(p.URLs.Authorize, vars)
	cp.URLs.Token = Expand(p.URLs.Token, vars)
	cp.URLs.Revoke = Expand(p.URLs.Revoke, vars)
	cp.URLs.API = Expand(p.URLs.API, vars)
	cp.URLs.Identity = Expand(p.URLs.Identity, vars)
	return &cp
}

// validateTemplates checks the placeholders of an entry's URLs: the OAuth
// endpoints may only use required config fields with a pattern (they are
// needed before any token exists); the API URL may also use names the
// connector fills from the account; the revoke URL may use credentials.
func validateTemplates(p *Provider) error {
	field := func(name string) (ConfigField, bool) {
		i := slices.IndexFunc(p.ConfigFields, func(f ConfigField) bool { return f.Name == name })
		if i < 0 {
			return ConfigField{}, false
		}
		return p.ConfigFields[i], true
	}
	for _, u := range []struct{ name, url string }{
		{"authorize", p.URLs.Authorize}, {"token", p.URLs.Token}, {"identity", p.URLs.Identity},
		{"revoke", p.URLs.Revoke}, {"api", p.URLs.API},
	} {
		for _, name := range Placeholders(u.url) {
			f, ok := field(name)
			switch {
			case ok && f.Pattern == "":
				return fmt.Errorf("%s URL uses config field %q, which needs a pattern to be safe in a URL", u.name, name)
			case ok && !f.Required && u.name != "api":
				return fmt.Errorf("%s URL uses config field %q, which must then be required", u.name, name)
			case ok:
			case u.name == "revoke" && slices.Contains(credentialPlaceholders, name):
			case u.name == "api":
				// filled by the connector from the account
			default:
				return fmt.Errorf("%s URL placeholder {%s} names no config field", u.name, name)
			}
		}
	}
	return nil
}
