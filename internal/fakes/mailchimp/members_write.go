package mailchimp

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"

	"patchbay/internal/fakes/fakekit"
)

// memberWrite is the body of POST /lists/{list}/members and PATCH
// /lists/{list}/members/{hash}: the member fields Patchbay writes.
type memberWrite struct {
	Email       string          `json:"email_address"`
	Status      string          `json:"status"`
	MergeFields map[string]any  `json:"merge_fields"`
	EmailType   string          `json:"email_type"`
	Language    string          `json:"language"`
	VIP         *bool           `json:"vip"`
	Interests   map[string]bool `json:"interests"`
	Location    map[string]any  `json:"location"`
	IPSignup    string          `json:"ip_signup"`
	TimestampSg string          `json:"timestamp_signup"`
}

// decodeMemberWrite reads and checks a member body as Mailchimp does: a
// known status, a plausible address when one is given, and only the
// audience's merge fields. It answers the problem itself and returns false
// when the body is refused.
func decodeMemberWrite(w http.ResponseWriter, r *http.Request) (memberWrite, map[string]string, bool) {
	var in memberWrite
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		problem(w, http.StatusBadRequest, "JSON Schema Validation Failed", "The request body is not valid for this resource: "+err.Error())
		return in, nil, false
	}
	if in.Email != "" && !strings.Contains(in.Email, "@") {
		problem(w, http.StatusBadRequest, "Invalid Resource", fmt.Sprintf("%s looks fake or invalid, please enter a real email address.", in.Email))
		return in, nil, false
	}
	if in.Status != "" && !slices.Contains(memberStatuses, in.Status) {
		problem(w, http.StatusBadRequest, "Invalid Resource", "status must be one of "+strings.Join(memberStatuses, ", ")+".")
		return in, nil, false
	}
	fields := map[string]string{}
	var bad []map[string]string
	for k, v := range in.MergeFields {
		if !slices.ContainsFunc(mergeFields, func(m struct{ Tag, Name, Type string }) bool { return m.Tag == k }) {
			bad = append(bad, map[string]string{"field": k, "message": "This merge field does not exist in the audience."})
			continue
		}
		fields[k] = fakekit.Stringify(v)
	}
	if len(bad) > 0 {
		problem(w, http.StatusBadRequest, "Invalid Resource", "Your merge fields were invalid.", bad...)
		return in, nil, false
	}
	return in, fields, true
}

// addMember is POST /lists/{list}/members: adds a new member; an address
// already in the audience is refused with "Member Exists", as Mailchimp does.
func (f *Fake) addMember(w http.ResponseWriter, r *http.Request, c fakekit.Call) {
	l, ok := f.list(w, r, c)
	if !ok {
		return
	}
	in, fields, ok := decodeMemberWrite(w, r)
	if !ok {
		return
	}
	switch {
	case in.Email == "":
		problem(w, http.StatusBadRequest, "Invalid Resource", "The resource submitted could not be validated.",
			map[string]string{"field": "email_address", "message": "This value should not be blank."})
		return
	case in.Status == "":
		problem(w, http.StatusBadRequest, "Invalid Resource", "The resource submitted could not be validated.",
			map[string]string{"field": "status", "message": "This value should not be blank."})
		return
	}
	id := SubscriberHash(in.Email)
	var out fakekit.Record
	_ = f.kit.Records(c.Account, membersObject(l.ID)).Tx(func(tx *fakekit.Tx) error {
		if _, exists := tx.Get(id); exists {
			return nil
		}
		fields["email_address"], fields["status"], fields["timestamp_signup"] = in.Email, in.Status, in.TimestampSg
		out = tx.Put(id, fields)
		return nil
	})
	if out.ID == "" {
		problem(w, http.StatusBadRequest, "Member Exists",
			fmt.Sprintf("%s is already a list member. Use PUT to insert or update list members.", in.Email))
		return
	}
	fakekit.WriteJSON(w, http.StatusOK, renderMember(l.ID, out))
}

// patchMember is PATCH /lists/{list}/members/{hash}: updates the fields
// given of an existing member; the address is needed only to change it.
func (f *Fake) patchMember(w http.ResponseWriter, r *http.Request, c fakekit.Call) {
	l, ok := f.list(w, r, c)
	if !ok {
		return
	}
	in, fields, ok := decodeMemberWrite(w, r)
	if !ok {
		return
	}
	id := strings.ToLower(r.PathValue("hash"))
	var out fakekit.Record
	found := false
	_ = f.kit.Records(c.Account, membersObject(l.ID)).Tx(func(tx *fakekit.Tx) error {
		if _, found = tx.Get(id); !found {
			return nil
		}
		upd := maps.Clone(fields)
		if in.Email != "" {
			upd["email_address"] = in.Email
		}
		if in.Status != "" {
			upd["status"] = in.Status
		}
		out, _ = tx.Update(id, upd)
		return nil
	})
	if !found {
		problem(w, http.StatusNotFound, "Resource Not Found", "The requested resource could not be found.")
		return
	}
	fakekit.WriteJSON(w, http.StatusOK, renderMember(l.ID, out))
}
