package fakekit

import (
	"net/http"
	"slices"
	"strings"
	"sync"
)

// CustomField is a field a user added at the provider (a HubSpot property, a
// Salesforce __c field, a Mailchimp merge field, an Airtable field). Type is
// the provider's own type name; each fake checks and renders it.
type CustomField struct {
	Name    string   `json:"name"`
	Type    string   `json:"type"`
	Label   string   `json:"label"`
	Options []string `json:"options,omitempty"`
}

// Fields holds, per account and object, the custom fields added and the
// fields deleted, as users change them at the provider. The zero value is ready.
type Fields struct {
	mu      sync.Mutex
	custom  map[string][]CustomField
	deleted map[string]bool
}

func fieldKey(account, object string) string { return account + "\x00" + object }

// Add adds (or replaces) a custom field of an account's object; a field
// deleted before comes back.
func (f *Fields) Add(account, object string, c CustomField) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.custom == nil {
		f.custom, f.deleted = map[string][]CustomField{}, map[string]bool{}
	}
	k := fieldKey(account, object)
	f.custom[k] = slices.DeleteFunc(f.custom[k], func(h CustomField) bool { return h.Name == c.Name })
	f.custom[k] = append(f.custom[k], c)
	delete(f.deleted, k+"\x00"+c.Name)
}

// Delete removes a field of an account's object, custom or built in.
func (f *Fields) Delete(account, object, name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.custom == nil {
		f.custom, f.deleted = map[string][]CustomField{}, map[string]bool{}
	}
	k := fieldKey(account, object)
	f.custom[k] = slices.DeleteFunc(f.custom[k], func(h CustomField) bool { return h.Name == name })
	f.deleted[k+"\x00"+name] = true
}

// Custom lists the custom fields of an account's object in the order added.
func (f *Fields) Custom(account, object string) []CustomField {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.custom[fieldKey(account, object)])
}

// Deleted says whether a field of an account's object was deleted.
func (f *Fields) Deleted(account, object, name string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.deleted[fieldKey(account, object)+"\x00"+name]
}

// Live filters built-in field names to those not deleted and appends the
// custom ones: the fields an account's object has now.
func (f *Fields) Live(account, object string, builtin []string) []string {
	out := make([]string, 0, len(builtin))
	for _, n := range builtin {
		if !f.Deleted(account, object, n) {
			out = append(out, n)
		}
	}
	for _, c := range f.Custom(account, object) {
		if !slices.Contains(out, c.Name) {
			out = append(out, c.Name)
		}
	}
	return out
}

// FieldChecker says whether a field may be added to an object, and returns it
// as the provider would store it (a Salesforce name gets its __c suffix).
type FieldChecker func(account string, c CustomField) (CustomField, error)

// FieldRoutes mounts the /_control/fields surface of shared/API.md: POST
// {"account","object","name","type","label"} adds a custom field, DELETE
// ?account&object&name removes one. check validates an addition per
// provider; known says whether an object exists and returns its key in f
// (an object may be named several ways, e.g. an Airtable table by id or name).
func (k *Kit) FieldRoutes(mux *http.ServeMux, f *Fields, known func(account, object string) (string, bool), check FieldChecker) {
	mux.HandleFunc("POST /_control/fields", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Account string `json:"account"`
			Object  string `json:"object"`
			CustomField
		}
		if !decode(w, r, &in) {
			return
		}
		in.Account = k.orDefault(in.Account)
		key, ok := known(in.Account, in.Object)
		if !ok {
			controlError(w, "unknown object "+in.Object)
			return
		}
		if strings.TrimSpace(in.Name) == "" {
			controlError(w, "name the field")
			return
		}
		if in.Label == "" {
			in.Label = in.Name
		}
		c, err := check(in.Account, in.CustomField)
		if err != nil {
			controlError(w, err.Error())
			return
		}
		f.Add(in.Account, key, c)
		WriteJSON(w, http.StatusOK, map[string]any{"account": in.Account, "object": in.Object, "field": c})
	})
	mux.HandleFunc("DELETE /_control/fields", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		account, object, name := k.orDefault(q.Get("account")), q.Get("object"), q.Get("name")
		key, ok := known(account, object)
		if !ok {
			controlError(w, "unknown object "+object)
			return
		}
		if name == "" {
			controlError(w, "name the field")
			return
		}
		f.Delete(account, key, name)
		WriteJSON(w, http.StatusOK, map[string]any{"account": account, "object": object, "deleted": name})
	})
}
