package mailchimp

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"patchbay/internal/fakes/fakekit"
)

// batchSubscribeMax is Mailchimp's limit of members per batch subscribe call.
const batchSubscribeMax = 500

// batchMember is one member of a batch subscribe body.
type batchMember struct {
	Email       string         `json:"email_address"`
	Status      string         `json:"status"`
	MergeFields map[string]any `json:"merge_fields"`
	Tags        []string       `json:"tags"`
	TimestampSg string         `json:"timestamp_signup"`
}

// batchError is one refused member of a batch subscribe answer.
type batchError struct {
	Email        string `json:"email_address"`
	Error        string `json:"error"`
	ErrorCode    string `json:"error_code"`
	Field        string `json:"field"`
	FieldMessage string `json:"field_message"`
}

// batchSubscribe is POST /lists/{list}: adds up to 500 members at once and,
// with update_existing, updates those already there. Refused members are
// listed in errors; the call itself succeeds.
func (f *Fake) batchSubscribe(w http.ResponseWriter, r *http.Request, c fakekit.Call) {
	l, ok := f.list(w, r, c)
	if !ok {
		return
	}
	var in struct {
		Members        []batchMember `json:"members"`
		UpdateExisting bool          `json:"update_existing"`
		SyncTags       bool          `json:"sync_tags"`
	}
	if err := jsonDecode(r, &in); err != nil {
		problem(w, http.StatusBadRequest, "JSON Schema Validation Failed", "The request body is not valid for this resource: "+err.Error())
		return
	}
	if in.Members == nil {
		problem(w, http.StatusBadRequest, "Invalid Resource", "The resource submitted could not be validated.",
			map[string]string{"field": "members", "message": "Required property members was not present."})
		return
	}
	if len(in.Members) > batchSubscribeMax {
		problem(w, http.StatusBadRequest, "Invalid Resource",
			fmt.Sprintf("You can only add or update %d members at a time; this request has %d.", batchSubscribeMax, len(in.Members)))
		return
	}
	created, updated := []map[string]any{}, []map[string]any{}
	errs := []batchError{}
	_ = f.kit.Records(c.Account, membersObject(l.ID)).Tx(func(tx *fakekit.Tx) error {
		for _, m := range in.Members {
			fields, bad := checkBatchMember(m)
			if bad != nil {
				errs = append(errs, *bad)
				continue
			}
			id := SubscriberHash(m.Email)
			cur, exists := tx.Get(id)
			if exists && !in.UpdateExisting {
				errs = append(errs, batchError{Email: m.Email, ErrorCode: "ERROR_CONTACT_EXISTS",
					Error: m.Email + " is already a list member, do you want to update? please provide update_existing:true in the request body"})
				continue
			}
			if m.Tags != nil {
				tags := m.Tags
				if exists && !in.SyncTags {
					tags = splitTags(cur.Fields["tags"])
					for _, t := range m.Tags {
						if !slices.Contains(tags, t) {
							tags = append(tags, t)
						}
					}
				}
				fields["tags"] = strings.Join(tags, ",")
			}
			if exists {
				rec, _ := tx.Update(id, fields)
				updated = append(updated, renderMember(l.ID, rec))
				continue
			}
			if fields["status"] == "" {
				errs = append(errs, batchError{Email: m.Email, ErrorCode: "ERROR_GENERIC", Field: "status",
					Error: "status is required to add a new member.", FieldMessage: "This value should not be blank."})
				continue
			}
			fields["timestamp_signup"] = m.TimestampSg
			created = append(created, renderMember(l.ID, tx.Put(id, fields)))
		}
		return nil
	})
	fakekit.WriteJSON(w, http.StatusOK, map[string]any{
		"new_members": created, "updated_members": updated, "errors": errs,
		"total_created": len(created), "total_updated": len(updated), "error_count": len(errs),
		"_links": []any{},
	})
}

// checkBatchMember validates one member as Mailchimp does, returning the
// fields to store or the member's error.
func checkBatchMember(m batchMember) (map[string]string, *batchError) {
	switch {
	case m.Email == "":
		return nil, &batchError{ErrorCode: "ERROR_GENERIC", Field: "email_address",
			Error: "An email address is required.", FieldMessage: "This value should not be blank."}
	case !strings.Contains(m.Email, "@"):
		return nil, &batchError{Email: m.Email, ErrorCode: "ERROR_GENERIC", Field: "email_address",
			Error: m.Email + " looks fake or invalid, please enter a real email address."}
	case m.Status != "" && !slices.Contains(memberStatuses, m.Status):
		return nil, &batchError{Email: m.Email, ErrorCode: "ERROR_GENERIC", Field: "status",
			Error: "status must be one of " + strings.Join(memberStatuses, ", ") + "."}
	}
	fields := map[string]string{"email_address": m.Email}
	if m.Status != "" {
		fields["status"] = m.Status
	}
	for _, k := range slices.Sorted(maps.Keys(m.MergeFields)) {
		if !slices.ContainsFunc(mergeFields, func(mf struct{ Tag, Name, Type string }) bool { return mf.Tag == k }) {
			return nil, &batchError{Email: m.Email, ErrorCode: "ERROR_GENERIC", Field: k,
				Error: "Your merge fields were invalid.", FieldMessage: "This merge field does not exist in the audience."}
		}
		fields[k] = fakekit.Stringify(m.MergeFields[k])
	}
	return fields, nil
}
