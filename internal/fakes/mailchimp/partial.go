package mailchimp

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"patchbay/internal/fakes/fakekit"
)

// partial applies Mailchimp's partial responses to a handler: fields=
// keeps only the named paths of a successful answer and exclude_fields=
// drops them. Paths are comma-separated and use dot notation for sub-objects;
// a path through an array applies to each element (members.email_address).
func partial(h func(http.ResponseWriter, *http.Request, fakekit.Call)) func(http.ResponseWriter, *http.Request, fakekit.Call) {
	return func(w http.ResponseWriter, r *http.Request, c fakekit.Call) {
		q := r.URL.Query()
		keep, drop := paths(q.Get("fields")), paths(q.Get("exclude_fields"))
		if keep == nil && drop == nil {
			h(w, r, c)
			return
		}
		rec := &bufferedResponse{header: w.Header(), status: http.StatusOK}
		h(rec, r, c)
		body := rec.body.Bytes()
		var doc any
		if rec.status/100 == 2 && json.Unmarshal(body, &doc) == nil {
			if keep != nil {
				doc = keepPaths(doc, keep)
			}
			if drop != nil {
				doc = dropPaths(doc, drop)
			}
			body, _ = json.Marshal(doc)
			body = append(body, '\n')
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		}
		w.WriteHeader(rec.status)
		_, _ = w.Write(body)
	}
}

// bufferedResponse holds an answer until its fields are chosen.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header         { return b.header }
func (b *bufferedResponse) WriteHeader(status int)      { b.status = status }
func (b *bufferedResponse) Write(p []byte) (int, error) { return b.body.Write(p) }

// pathTree is a set of dotted paths: a key with a nil subtree is a whole field.
type pathTree map[string]pathTree

func paths(list string) pathTree {
	var t pathTree
	for _, p := range strings.Split(list, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		if t == nil {
			t = pathTree{}
		}
		node := t
		parts := strings.Split(p, ".")
		for i, part := range parts {
			sub, seen := node[part]
			if seen && sub == nil {
				break // the whole field is already named
			}
			if i == len(parts)-1 {
				node[part] = nil
				break
			}
			if sub == nil {
				sub = pathTree{}
				node[part] = sub
			}
			node = sub
		}
	}
	return t
}

func keepPaths(doc any, t pathTree) any {
	switch v := doc.(type) {
	case []any:
		for i := range v {
			v[i] = keepPaths(v[i], t)
		}
		return v
	case map[string]any:
		out := map[string]any{}
		for k, sub := range t {
			val, ok := v[k]
			if !ok {
				continue
			}
			if sub == nil {
				out[k] = val
			} else {
				out[k] = keepPaths(val, sub)
			}
		}
		return out
	}
	return doc
}

func dropPaths(doc any, t pathTree) any {
	switch v := doc.(type) {
	case []any:
		for i := range v {
			v[i] = dropPaths(v[i], t)
		}
	case map[string]any:
		for k, sub := range t {
			if sub == nil {
				delete(v, k)
			} else if val, ok := v[k]; ok {
				v[k] = dropPaths(val, sub)
			}
		}
	}
	return doc
}
