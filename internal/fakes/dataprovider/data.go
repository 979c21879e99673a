package dataprovider

import (
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"unicode"
)

// lookup is one kind of question the provider answers.
type lookup struct {
	input string // the input field it needs
	// run answers for a non-empty input: the data, whether it was found, or
	// a problem with the input.
	run func(value string) (data map[string]any, found bool, problem string)
}

var lookups = map[string]lookup{
	"company_by_domain":  {input: "domain", run: companyByDomain},
	"person_by_email":    {input: "email", run: personByEmail},
	"contact_by_company": {input: "company", run: contactByCompany},
}

var (
	industries = []string{"Software", "Manufacturing", "Retail", "Financial Services", "Healthcare", "Logistics", "Education", "Media"}
	cities     = []string{"Berlin", "Austin", "Lisbon", "Toronto", "Melbourne", "Dublin", "Singapore", "Denver"}
	titles     = []string{"Head of Sales", "Marketing Manager", "CTO", "Operations Lead", "Account Executive", "Founder", "Product Manager"}
	surnames   = []string{"Lee", "Garcia", "Novak", "Okafor", "Schmidt", "Tanaka", "Rossi", "Dubois"}
)

func hash(s string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(s))
	return h.Sum32()
}

func pick(list []string, seed string) string { return list[hash(seed)%uint32(len(list))] }

// phone is a made-up number in the 555 range reserved for fiction.
func phone(seed string) string { return fmt.Sprintf("+1-555-%04d", hash("phone:"+seed)%10000) }

func title(w string) string {
	if w == "" {
		return w
	}
	r := []rune(w)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}

// normalizeDomain accepts "Acme.com", "https://www.acme.com/about" and the like.
func normalizeDomain(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	for _, prefix := range []string{"https://", "http://", "www."} {
		s = strings.TrimPrefix(s, prefix)
	}
	if i := strings.IndexAny(s, "/?#"); i >= 0 {
		s = s[:i]
	}
	return s
}

// notFound reports inputs under the reserved .invalid top-level domain,
// which the fake never knows (RFC 2606).
func notFound(domain string) bool {
	return domain == "invalid" || strings.HasSuffix(domain, ".invalid")
}

// companyName derives a display name from a domain: acme-tools.com -> "Acme Tools".
func companyName(domain string) string {
	label, _, _ := strings.Cut(domain, ".")
	words := strings.FieldsFunc(label, func(r rune) bool { return r == '-' || r == '_' })
	for i, w := range words {
		words[i] = title(w)
	}
	return strings.Join(words, " ")
}

func companyByDomain(value string) (map[string]any, bool, string) {
	domain := normalizeDomain(value)
	if !strings.Contains(domain, ".") || strings.ContainsAny(domain, " @") {
		return nil, false, "input.domain must be a domain such as example.com."
	}
	if notFound(domain) {
		return nil, false, ""
	}
	return map[string]any{
		"name":      companyName(domain),
		"industry":  pick(industries, "industry:"+domain),
		"employees": 5 + int(hash("size:"+domain)%4995),
		"phone":     phone(domain),
		"city":      pick(cities, "city:"+domain),
	}, true, ""
}

func personByEmail(value string) (map[string]any, bool, string) {
	local, domain, ok := strings.Cut(strings.ToLower(value), "@")
	if !ok || !strings.Contains(domain, ".") {
		return nil, false, "input.email must be an e-mail address such as ann.lee@example.com."
	}
	if notFound(domain) {
		return nil, false, ""
	}
	names := strings.FieldsFunc(local, func(r rune) bool { return r == '.' || r == '_' || r == '-' || r == '+' })
	if len(names) == 0 {
		return nil, false, "input.email must be an e-mail address such as ann.lee@example.com."
	}
	first, last := title(names[0]), ""
	if len(names) > 1 {
		last = title(names[1])
	} else {
		last = pick(surnames, "surname:"+value)
	}
	return map[string]any{
		"first_name": first,
		"last_name":  last,
		"title":      pick(titles, "title:"+strings.ToLower(value)),
		"phone":      phone(strings.ToLower(value)),
		"company":    companyName(domain),
	}, true, ""
}

// legalSuffixes are dropped when a company name becomes a domain.
var legalSuffixes = []string{"inc", "llc", "ltd", "gmbh", "corp", "co", "sa", "ag", "plc"}

func contactByCompany(value string) (map[string]any, bool, string) {
	var words []string
	for _, w := range strings.FieldsFunc(strings.ToLower(value), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		if !slices.Contains(legalSuffixes, w) {
			words = append(words, w)
		}
	}
	if len(words) == 0 {
		return nil, false, "input.company must name a company, such as Acme Inc."
	}
	if words[0] == "unknown" {
		return nil, false, ""
	}
	domain := strings.Join(words, "") + ".com"
	return map[string]any{
		"email":  "contact@" + domain,
		"phone":  phone(domain),
		"domain": domain,
	}, true, ""
}
