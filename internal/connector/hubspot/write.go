package hubspot

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"patchbay/internal/connector"
)

// readOnly are properties HubSpot computes; writing them is refused, so they
// are left out of writes (records read from HubSpot carry them).
var readOnly = []string{"hs_object_id", "createdate", "lastmodifieddate", "hs_lastmodifieddate", "hs_createdate"}

// uniqueProperty reports whether HubSpot can upsert object by field: only
// properties with unique values qualify, which among the standard ones is
// the contact e-mail. Companies' domain is not unique at HubSpot.
func uniqueProperty(object, field string) bool {
	return object == "contacts" && field == "email"
}

type batchInput struct {
	ID                 string            `json:"id,omitempty"`
	IDProperty         string            `json:"idProperty,omitempty"`
	Properties         map[string]string `json:"properties"`
	ObjectWriteTraceID string            `json:"objectWriteTraceId"`
}

// writer carries one Write call: the request, the per-record results and the
// HubSpot id each record resolved to.
type writer struct {
	c       *Connector
	s       connector.Session
	req     connector.WriteRequest
	results []connector.WriteResult
	ids     []string // resolved ids of records to update
}

// Write creates and updates records in batches of at most 100:
//   - records with an ID (or, with MatchField hs_object_id, that field) are updated;
//   - without a MatchField, records are created;
//   - with a unique MatchField (contacts' email) they are upserted;
//   - with another MatchField (companies' domain) existing records are found
//     by search and updated; the rest are created, once per value.
//
// Failures of single records (HTTP 400, 404, 409) land in their results;
// failures of the connection (auth, scope, rate limit, outage) stop the write
// and are returned with the results so far.
func (c *Connector) Write(ctx context.Context, s connector.Session, req connector.WriteRequest) ([]connector.WriteResult, error) {
	if req.Object == "" {
		return nil, &connector.Error{Class: connector.ClassInvalid, Message: "no HubSpot object given to write"}
	}
	w := &writer{c: c, s: s, req: req, results: make([]connector.WriteResult, len(req.Records)), ids: make([]string, len(req.Records))}
	var updates, creates, upserts, matches []int
	for i, r := range req.Records {
		w.results[i].Index = i
		id := r.ID
		if id == "" && req.MatchField == "hs_object_id" {
			id = propertyValue(r.Fields["hs_object_id"])
		}
		switch {
		case id != "":
			w.ids[i] = id
			updates = append(updates, i)
		case req.MatchField == "" || req.MatchField == "hs_object_id":
			creates = append(creates, i)
		case propertyValue(r.Fields[req.MatchField]) == "":
			w.results[i].Err = &connector.Error{Class: connector.ClassInvalid,
				Message: fmt.Sprintf("the record has no %s to match it with a HubSpot %s", req.MatchField, req.Object)}
		case uniqueProperty(req.Object, req.MatchField):
			upserts = append(upserts, i)
		default:
			matches = append(matches, i)
		}
	}
	// Records matched by a non-unique property: the first record of a value
	// HubSpot does not hold creates it, later ones update what it created,
	// so that a write run twice, or rows sharing a value, make no duplicates.
	var followers []int
	creator := map[string]int{}
	if len(matches) > 0 {
		found, err := w.findByMatchField(ctx, matches)
		if err != nil {
			return w.results, err
		}
		for _, i := range matches {
			v := strings.ToLower(propertyValue(req.Records[i].Fields[req.MatchField]))
			if id, ok := found[v]; ok {
				w.ids[i] = id
				updates = append(updates, i)
			} else if _, ok := creator[v]; ok {
				followers = append(followers, i)
			} else {
				creator[v] = i
				creates = append(creates, i)
			}
		}
	}
	if err := w.run(ctx, updates, upserts, creates); err != nil {
		return w.results, err
	}
	var late []int
	for _, i := range followers {
		first := creator[strings.ToLower(propertyValue(req.Records[i].Fields[req.MatchField]))]
		if err := w.results[first].Err; err != nil {
			w.results[i].Err = err
			continue
		}
		w.ids[i] = w.results[first].ID
		late = append(late, i)
	}
	if err := w.run(ctx, late, nil, nil); err != nil {
		return w.results, err
	}
	return w.results, nil
}

// run sends updates, upserts and creates in batches.
func (w *writer) run(ctx context.Context, updates, upserts, creates []int) error {
	steps := []struct {
		op  string
		idx []int
		key func(i int) string
	}{
		{"update", updates, func(i int) string { return w.ids[i] }},
		{"upsert", upserts, func(i int) string { return strings.ToLower(propertyValue(w.req.Records[i].Fields[w.req.MatchField])) }},
		{"create", creates, strconv.Itoa},
	}
	for _, st := range steps {
		for _, chunk := range chunks(st.idx, st.key) {
			if err := w.send(ctx, st.op, chunk); err != nil {
				return err
			}
		}
	}
	return nil
}

// chunks splits idx into batches of at most batchSize with distinct keys,
// keeping the order: HubSpot refuses a batch that names a record twice, so a
// repeated key starts the next batch and its later write lands last.
func chunks(idx []int, key func(int) string) [][]int {
	var out [][]int
	var cur []int
	seen := map[string]bool{}
	for _, i := range idx {
		k := key(i)
		if len(cur) == batchSize || seen[k] {
			out = append(out, cur)
			cur = nil
			clear(seen)
		}
		cur = append(cur, i)
		seen[k] = true
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// send writes one batch. A 404 on update names the ids that are gone: those
// records fail and the rest is sent again.
func (w *writer) send(ctx context.Context, op string, chunk []int) error {
	for len(chunk) > 0 {
		inputs := make([]batchInput, len(chunk))
		for n, i := range chunk {
			in := batchInput{Properties: properties(w.req.Records[i].Fields), ObjectWriteTraceID: strconv.Itoa(i)}
			switch op {
			case "update":
				in.ID = w.ids[i]
			case "upsert":
				in.ID, in.IDProperty = propertyValue(w.req.Records[i].Fields[w.req.MatchField]), w.req.MatchField
			}
			inputs[n] = in
		}
		var out struct {
			Results []apiObject `json:"results"`
		}
		var eb errorBody
		err := w.c.do(ctx, w.s, call{
			method: http.MethodPost, path: "/crm/v3/objects/" + url.PathEscape(w.req.Object) + "/batch/" + op,
			in: map[string]any{"inputs": inputs}, out: &out, errBody: &eb,
			idempotent: op != "create", // a retried create could create twice
		})
		switch class := connector.ClassOf(err); {
		case err == nil:
			w.record(op, chunk, out.Results)
			return nil
		case class == connector.ClassNotFound && op == "update":
			gone := contextStrings(eb.Context, "ids")
			rest := slices.DeleteFunc(slices.Clone(chunk), func(i int) bool { return slices.Contains(gone, w.ids[i]) })
			if len(gone) == 0 || len(rest) == len(chunk) {
				w.fail(chunk, err)
				return nil
			}
			for _, i := range chunk {
				if slices.Contains(gone, w.ids[i]) {
					w.results[i].Err = err
				}
			}
			chunk = rest
		case class == connector.ClassInvalid || class == connector.ClassNotFound:
			w.fail(chunk, err)
			return nil
		default:
			return err
		}
	}
	return nil
}

func (w *writer) fail(chunk []int, err error) {
	for _, i := range chunk {
		w.results[i].Err = err
	}
}

// record maps batch results back to records by objectWriteTraceId: HubSpot
// returns them in no particular order.
func (w *writer) record(op string, chunk []int, results []apiObject) {
	done := map[int]bool{}
	for _, o := range results {
		i, err := strconv.Atoi(o.ObjectWriteTraceID)
		if err != nil || !slices.Contains(chunk, i) {
			continue
		}
		done[i] = true
		w.results[i].ID = o.ID
		w.results[i].Created = op == "create" || (op == "upsert" && o.New != nil && *o.New)
	}
	for _, i := range chunk {
		if !done[i] {
			w.results[i].Err = &connector.Error{Class: connector.ClassUnknown, Message: "HubSpot did not report the outcome of this record"}
		}
	}
}

// findByMatchField looks up existing records by a property that is not
// unique at HubSpot, 100 values per search; with duplicates the oldest record
// (lowest id) wins. It returns lower-cased value -> id.
func (w *writer) findByMatchField(ctx context.Context, idx []int) (map[string]string, error) {
	field := w.req.MatchField
	var values []string
	for _, i := range idx {
		if v := propertyValue(w.req.Records[i].Fields[field]); !slices.Contains(values, v) {
			values = append(values, v)
		}
	}
	found := map[string]string{}
	for start := 0; start < len(values); start += batchSize {
		body := map[string]any{
			"filterGroups": []any{map[string]any{"filters": []any{map[string]any{
				"propertyName": field, "operator": "IN", "values": values[start:min(start+batchSize, len(values))],
			}}}},
			"sorts":      []any{map[string]any{"propertyName": "hs_object_id", "direction": "ASCENDING"}},
			"properties": []string{field},
			"limit":      searchMax,
		}
		for {
			var out pageResponse
			err := w.c.do(ctx, w.s, call{method: http.MethodPost, path: "/crm/v3/objects/" + url.PathEscape(w.req.Object) + "/search",
				in: body, out: &out, idempotent: true, budget: "search"})
			if err != nil {
				return nil, err
			}
			for _, o := range out.Results {
				if v := o.Properties[field]; v != nil {
					if _, seen := found[strings.ToLower(*v)]; !seen {
						found[strings.ToLower(*v)] = o.ID
					}
				}
			}
			if out.next() == "" {
				break
			}
			if prev, _ := body["after"].(string); prev == out.next() || len(out.Results) == 0 {
				return nil, &connector.Error{Class: connector.ClassUnknown, Message: "HubSpot's search paging does not advance"}
			}
			body["after"] = out.next()
		}
	}
	return found, nil
}

// properties renders record fields as HubSpot property values.
func properties(fields map[string]any) map[string]string {
	out := make(map[string]string, len(fields))
	for k, v := range fields {
		if !slices.Contains(readOnly, k) {
			out[k] = propertyValue(v)
		}
	}
	return out
}

// propertyValue renders one value the way HubSpot stores properties: as a
// string, an instant as epoch milliseconds, nothing as "" (which clears).
func propertyValue(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case time.Time:
		return strconv.FormatInt(v.UnixMilli(), 10)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case json.Number:
		return v.String()
	default:
		return fmt.Sprint(v)
	}
}

func contextStrings(ctx map[string]any, key string) []string {
	list, _ := ctx[key].([]any)
	out := make([]string, 0, len(list))
	for _, v := range list {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
