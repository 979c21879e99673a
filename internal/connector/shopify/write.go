package shopify

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"patchbay/internal/connector"
)

// customerInput are the CustomerInput fields Patchbay writes; the others a
// read returns are Shopify's own (read-only).
var (
	customerInput    = []string{"email", "firstName", "lastName", "phone", "note", "tags"}
	customerReadOnly = []string{"state", "numberOfOrders", "createdAt", "updatedAt", "displayName", "amountSpent"}
)

type customerWrite struct {
	index int
	id    string // gid when updating
	input map[string]any
	err   error // set when the row cannot be written (an ambiguous match)
}

// Write creates or updates customers, up to 10 in one request as aliased
// customerCreate/customerUpdate mutations (10 points each). Records with an
// id are updated; matched by email, the store is asked first (one query for
// the whole batch) and the customer found is updated, else created.
func (c *Connector) Write(ctx context.Context, s connector.Session, req connector.WriteRequest) ([]connector.WriteResult, error) {
	if req.Object != "customers" {
		return nil, &connector.Error{Class: connector.ClassInvalid, Message: fmt.Sprintf("Patchbay writes Shopify customers only, not %q", req.Object)}
	}
	results := make([]connector.WriteResult, len(req.Records))
	var writes []customerWrite
	for i, rec := range req.Records {
		results[i].Index = i
		w, err := buildCustomer(i, rec)
		if err != nil {
			results[i].Err = err
			continue
		}
		writes = append(writes, w)
	}
	for start := 0; start < len(writes); start += batchMax {
		chunk := writes[start:min(start+batchMax, len(writes))]
		if req.MatchField == "email" {
			if err := c.matchByEmail(ctx, s, chunk); err != nil {
				return nil, err
			}
			// A row whose match is ambiguous fails alone; the others go on.
			var kept []customerWrite
			for _, w := range chunk {
				if w.err != nil {
					results[w.index].Err = w.err
					continue
				}
				kept = append(kept, w)
			}
			chunk = kept
		}
		if len(chunk) == 0 {
			continue
		}
		if err := c.mutate(ctx, s, chunk, results); err != nil {
			return nil, err
		}
	}
	return results, nil
}

func buildCustomer(i int, rec connector.Record) (customerWrite, error) {
	w := customerWrite{index: i, input: map[string]any{}}
	if rec.ID != "" {
		w.id = rec.ID
		if !strings.HasPrefix(w.id, "gid://") {
			w.id = "gid://shopify/Customer/" + w.id
		}
	}
	for k, v := range rec.Fields {
		switch {
		case k == "id":
		case k == "tags":
			w.input["tags"] = splitTags(v)
		case slices.Contains(customerInput, k):
			if v == nil {
				v = ""
			}
			w.input[k] = fmt.Sprint(v)
		case slices.Contains(customerReadOnly, k):
		default:
			return w, &connector.Error{Class: connector.ClassInvalid,
				Message: fmt.Sprintf("%q is not a Shopify customer field Patchbay can write (%s)", k, strings.Join(customerInput, ", "))}
		}
	}
	return w, nil
}

func splitTags(v any) []string {
	out := []string{}
	var raw []string
	switch t := v.(type) {
	case string:
		raw = strings.Split(t, ",")
	case []string:
		raw = t
	case []any:
		for _, x := range t {
			raw = append(raw, fmt.Sprint(x))
		}
	}
	for _, t := range raw {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// matchCandidates is how many customers a match-by-email lookup reads:
// Shopify's search is tokenised, so a quoted address also finds addresses
// that contain it (bob@example.com finds bob@example.com.au), and the
// exact one may not be first.
const matchCandidates = 5

// matchByEmail finds the customers of a chunk that have no id by their
// e-mail address, all in one query. Each hit is checked for the very address
// (case-insensitive); none is a create, one an update, two or more a
// per-row error: Patchbay never picks one of several customers.
func (c *Connector) matchByEmail(ctx context.Context, s connector.Session, chunk []customerWrite) error {
	var decls, fields []string
	vars := map[string]any{}
	var asked []int
	for i, w := range chunk {
		email, _ := w.input["email"].(string)
		if w.id != "" || email == "" {
			continue
		}
		decls = append(decls, fmt.Sprintf("$q%d: String!", i))
		fields = append(fields, fmt.Sprintf("m%d: customers(first: %d, query: $q%d) { nodes { id defaultEmailAddress { emailAddress } } pageInfo { hasNextPage } }", i, matchCandidates, i))
		vars[fmt.Sprintf("q%d", i)] = "email:\"" + strings.ReplaceAll(email, `"`, "") + "\""
		asked = append(asked, i)
	}
	if len(asked) == 0 {
		return nil
	}
	doc := "query(" + strings.Join(decls, ", ") + ") {\n  " + strings.Join(fields, "\n  ") + "\n}"
	var out map[string]struct {
		Nodes []struct {
			ID                  string `json:"id"`
			DefaultEmailAddress *struct {
				EmailAddress string `json:"emailAddress"`
			} `json:"defaultEmailAddress"`
		} `json:"nodes"`
		PageInfo struct {
			HasNextPage bool `json:"hasNextPage"`
		} `json:"pageInfo"`
	}
	// 2 for each connection, 2 for each customer (itself and its address).
	if err := c.query(ctx, s, (2+2*matchCandidates)*len(asked), doc, vars, &out); err != nil {
		return err
	}
	for _, i := range asked {
		email := chunk[i].input["email"].(string)
		m := out[fmt.Sprintf("m%d", i)]
		var ids []string
		for _, n := range m.Nodes {
			if n.DefaultEmailAddress != nil && strings.EqualFold(strings.TrimSpace(n.DefaultEmailAddress.EmailAddress), strings.TrimSpace(email)) {
				ids = append(ids, n.ID)
			}
		}
		switch {
		case len(ids) > 1:
			chunk[i].err = &connector.Error{Class: connector.ClassInvalid, Code: "AMBIGUOUS_MATCH",
				Message: fmt.Sprintf("%d Shopify customers have the e-mail address %s; Patchbay changed none of them. Merge them in Shopify, or match on the customer id.", len(ids), email)}
		case len(ids) == 0 && m.PageInfo.HasNextPage:
			chunk[i].err = &connector.Error{Class: connector.ClassInvalid, Code: "AMBIGUOUS_MATCH",
				Message: fmt.Sprintf("more than %d Shopify customers have e-mail addresses like %s, too many to tell whether one is it; Patchbay changed none. Match on the customer id.", matchCandidates, email)}
		case len(ids) == 1:
			chunk[i].id = ids[0]
		}
	}
	return nil
}

// mutate sends a chunk's creates and updates as one aliased mutation.
func (c *Connector) mutate(ctx context.Context, s connector.Session, chunk []customerWrite, results []connector.WriteResult) error {
	decls := make([]string, 0, len(chunk))
	fields := make([]string, 0, len(chunk))
	vars := map[string]any{}
	for i, w := range chunk {
		op := "customerCreate"
		input := w.input
		if w.id != "" {
			op = "customerUpdate"
			input = map[string]any{"id": w.id}
			for k, v := range w.input {
				input[k] = v
			}
		}
		decls = append(decls, fmt.Sprintf("$i%d: CustomerInput!", i))
		fields = append(fields, fmt.Sprintf("w%d: %s(input: $i%d) { customer { id } userErrors { field message } }", i, op, i))
		vars[fmt.Sprintf("i%d", i)] = input
	}
	doc := "mutation(" + strings.Join(decls, ", ") + ") {\n  " + strings.Join(fields, "\n  ") + "\n}"
	var out map[string]*struct {
		Customer *struct {
			ID string `json:"id"`
		} `json:"customer"`
		UserErrors []struct {
			Field   []string `json:"field"`
			Message string   `json:"message"`
		} `json:"userErrors"`
	}
	if err := c.query(ctx, s, mutationCost*len(chunk), doc, vars, &out); err != nil {
		return err
	}
	for i, w := range chunk {
		r := &results[w.index]
		p := out[fmt.Sprintf("w%d", i)]
		switch {
		case p == nil:
			r.Err = &connector.Error{Class: connector.ClassUnknown, Message: "Shopify answered nothing for this customer"}
		case len(p.UserErrors) > 0:
			msgs := make([]string, 0, len(p.UserErrors))
			for _, e := range p.UserErrors {
				msgs = append(msgs, strings.Join(e.Field, ".")+": "+e.Message)
			}
			class := connector.ClassInvalid
			if w.id != "" && slices.ContainsFunc(p.UserErrors, func(e struct {
				Field   []string `json:"field"`
				Message string   `json:"message"`
			}) bool {
				return strings.Contains(e.Message, "does not exist")
			}) {
				class = connector.ClassNotFound
			}
			r.Err = &connector.Error{Class: class, Message: strings.Join(msgs, "; ")}
		case p.Customer == nil:
			r.Err = &connector.Error{Class: connector.ClassUnknown, Message: "Shopify returned no customer"}
		default:
			r.ID, r.Created = p.Customer.ID, w.id == ""
		}
	}
	return nil
}
