package mailchimp

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"patchbay/internal/fakes/fakekit"
)

// Mailchimp's documented paging: count defaults to 10 and goes up to 1000.
const (
	defaultCount = 10
	maxCount     = 1000
)

// mergeFields are the merge fields of every fake audience: Mailchimp's
// defaults for a new audience.
var mergeFields = []struct{ Tag, Name, Type string }{
	{"FNAME", "First Name", "text"},
	{"LNAME", "Last Name", "text"},
	{"ADDRESS", "Address", "address"},
	{"PHONE", "Phone Number", "phone"},
	{"BIRTHDAY", "Birthday", "birthday"},
}

var memberStatuses = []string{"subscribed", "unsubscribed", "cleaned", "pending", "transactional"}

func jsonEncode(w io.Writer, v any) error { return json.NewEncoder(w).Encode(v) }

func jsonDecode(r *http.Request, v any) error {
	return json.NewDecoder(io.LimitReader(r.Body, 8<<20)).Decode(v)
}

// paging reads count and offset.
func paging(w http.ResponseWriter, r *http.Request) (count, offset int, ok bool) {
	q := r.URL.Query()
	count, offset = defaultCount, 0
	if v := q.Get("count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxCount {
			problem(w, http.StatusBadRequest, "Invalid Resource", fmt.Sprintf("count must be between 1 and %d.", maxCount))
			return 0, 0, false
		}
		count = n
	}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			problem(w, http.StatusBadRequest, "Invalid Resource", "offset must be a whole number of at least 0.")
			return 0, 0, false
		}
		offset = n
	}
	return count, offset, true
}

func window[T any](all []T, count, offset int) []T {
	if offset >= len(all) {
		return []T{}
	}
	return all[offset:min(offset+count, len(all))]
}

func (f *Fake) root(w http.ResponseWriter, _ *http.Request, c fakekit.Call) {
	total := 0
	for _, l := range f.Audiences(c.Account) {
		total += f.kit.Records(c.Account, membersObject(l.ID)).Len()
	}
	fakekit.WriteJSON(w, http.StatusOK, map[string]any{
		"account_id": AccountID(c.Account), "login_id": strconv.FormatUint(uint64(hash("login:"+c.Account)), 10),
		"account_name": AccountName(c.Account), "email": LoginEmail(c.Account), "first_name": "Demo", "last_name": "User",
		"username": c.Account, "role": "owner", "member_since": "2020-01-01T00:00:00+00:00", "pricing_plan_type": "monthly",
		"account_timezone": "UTC", "total_subscribers": total,
	})
}

func (f *Fake) renderList(account string, rec fakekit.Record) map[string]any {
	return map[string]any{
		"id": rec.ID, "web_id": hash("web:" + rec.ID), "name": rec.Fields["name"],
		"date_created":        rec.CreatedAt.UTC().Format(time.RFC3339),
		"permission_reminder": rec.Fields["permission_reminder"],
		"stats":               map[string]any{"member_count": f.kit.Records(account, membersObject(rec.ID)).Len()},
	}
}

func (f *Fake) lists(w http.ResponseWriter, r *http.Request, c fakekit.Call) {
	count, offset, ok := paging(w, r)
	if !ok {
		return
	}
	all := f.Audiences(c.Account)
	out := []map[string]any{}
	for _, l := range window(all, count, offset) {
		out = append(out, f.renderList(c.Account, l))
	}
	fakekit.WriteJSON(w, http.StatusOK, map[string]any{"lists": out, "total_items": len(all)})
}

// list finds the audience of the path or answers 404.
func (f *Fake) list(w http.ResponseWriter, r *http.Request, c fakekit.Call) (fakekit.Record, bool) {
	l, ok := f.kit.Records(c.Account, "audiences").Get(r.PathValue("list"))
	if !ok {
		problem(w, http.StatusNotFound, "Resource Not Found", "The requested resource could not be found.")
	}
	return l, ok
}

func (f *Fake) getList(w http.ResponseWriter, r *http.Request, c fakekit.Call) {
	if l, ok := f.list(w, r, c); ok {
		fakekit.WriteJSON(w, http.StatusOK, f.renderList(c.Account, l))
	}
}

func renderMember(listID string, rec fakekit.Record) map[string]any {
	merge := map[string]any{}
	for _, mf := range mergeFields {
		merge[mf.Tag] = rec.Fields[mf.Tag]
	}
	tags := []map[string]any{}
	for _, t := range splitTags(rec.Fields["tags"]) {
		tags = append(tags, map[string]any{"id": hash("tag:" + t), "name": t})
	}
	return map[string]any{
		"id": rec.ID, "email_address": rec.Fields["email_address"], "unique_email_id": rec.ID[:10],
		"contact_id": rec.ID, "full_name": strings.TrimSpace(rec.Fields["FNAME"] + " " + rec.Fields["LNAME"]),
		"status": rec.Fields["status"], "merge_fields": merge, "tags": tags, "tags_count": len(tags),
		"timestamp_signup": rec.Fields["timestamp_signup"], "timestamp_opt": rec.CreatedAt.UTC().Format(time.RFC3339),
		"last_changed": rec.UpdatedAt.UTC().Format(time.RFC3339), "list_id": listID,
	}
}

func splitTags(s string) []string {
	var out []string
	for _, t := range strings.Split(s, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// members is GET /lists/{list}/members with count/offset paging, the
// since_last_changed and status filters and sorting by last_changed.
func (f *Fake) members(w http.ResponseWriter, r *http.Request, c fakekit.Call) {
	l, ok := f.list(w, r, c)
	if !ok {
		return
	}
	count, offset, ok := paging(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	all := f.kit.Records(c.Account, membersObject(l.ID)).All()
	if v := q.Get("since_last_changed"); v != "" {
		since, err := time.Parse(time.RFC3339, v)
		if err != nil {
			problem(w, http.StatusBadRequest, "Invalid Resource", "since_last_changed must be an ISO 8601 time such as 2026-01-01T00:00:00+00:00.")
			return
		}
		all = slices.DeleteFunc(all, func(m fakekit.Record) bool { return m.UpdatedAt.Before(since) })
	}
	if v := q.Get("status"); v != "" {
		all = slices.DeleteFunc(all, func(m fakekit.Record) bool { return m.Fields["status"] != v })
	}
	switch q.Get("sort_field") {
	case "":
	case "last_changed":
		slices.SortStableFunc(all, func(a, b fakekit.Record) int { return a.UpdatedAt.Compare(b.UpdatedAt) })
		if q.Get("sort_dir") == "DESC" {
			slices.Reverse(all)
		}
	default:
		problem(w, http.StatusBadRequest, "Invalid Resource", "sort_field must be timestamp_opt, timestamp_signup or last_changed.")
		return
	}
	out := []map[string]any{}
	for _, m := range window(all, count, offset) {
		out = append(out, renderMember(l.ID, m))
	}
	fakekit.WriteJSON(w, http.StatusOK, map[string]any{"members": out, "list_id": l.ID, "total_items": len(all)})
}

func (f *Fake) getMember(w http.ResponseWriter, r *http.Request, c fakekit.Call) {
	l, ok := f.list(w, r, c)
	if !ok {
		return
	}
	m, ok := f.kit.Records(c.Account, membersObject(l.ID)).Get(strings.ToLower(r.PathValue("hash")))
	if !ok {
		problem(w, http.StatusNotFound, "Resource Not Found", "The requested resource could not be found.")
		return
	}
	fakekit.WriteJSON(w, http.StatusOK, renderMember(l.ID, m))
}

// putMember is PUT /lists/{list}/members/{subscriber_hash}: add or update.
func (f *Fake) putMember(w http.ResponseWriter, r *http.Request, c fakekit.Call) {
	l, ok := f.list(w, r, c)
	if !ok {
		return
	}
	var in struct {
		Email        string          `json:"email_address"`
		StatusIfNew  string          `json:"status_if_new"`
		Status       string          `json:"status"`
		MergeFields  map[string]any  `json:"merge_fields"`
		EmailType    string          `json:"email_type"`
		Language     string          `json:"language"`
		VIP          *bool           `json:"vip"`
		Interests    map[string]bool `json:"interests"`
		Location     map[string]any  `json:"location"`
		IPSignup     string          `json:"ip_signup"`
		TimestampSig string          `json:"timestamp_signup"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		problem(w, http.StatusBadRequest, "JSON Schema Validation Failed", "The request body is not valid for this resource: "+err.Error())
		return
	}
	hashParam := strings.ToLower(r.PathValue("hash"))
	switch {
	case in.Email == "":
		problem(w, http.StatusBadRequest, "Invalid Resource", "The resource submitted could not be validated.",
			map[string]string{"field": "email_address", "message": "This value should not be blank."})
		return
	case !strings.Contains(in.Email, "@"):
		problem(w, http.StatusBadRequest, "Invalid Resource", fmt.Sprintf("%s looks fake or invalid, please enter a real email address.", in.Email))
		return
	case SubscriberHash(in.Email) != hashParam:
		problem(w, http.StatusBadRequest, "Invalid Resource", "The subscriber hash in the URL does not match the email_address; it is the MD5 of the lowercased address.")
		return
	}
	for _, s := range []string{in.Status, in.StatusIfNew} {
		if s != "" && !slices.Contains(memberStatuses, s) {
			problem(w, http.StatusBadRequest, "Invalid Resource", "status must be one of "+strings.Join(memberStatuses, ", ")+".")
			return
		}
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
		return
	}
	var out fakekit.Record
	_ = f.kit.Records(c.Account, membersObject(l.ID)).Tx(func(tx *fakekit.Tx) error {
		cur, exists := tx.Get(hashParam)
		if !exists {
			if in.StatusIfNew == "" && in.Status == "" {
				return nil
			}
			fields["email_address"] = in.Email
			fields["status"] = cmp(in.Status, in.StatusIfNew)
			fields["timestamp_signup"] = in.TimestampSig
			out = tx.Put(hashParam, fields)
			return nil
		}
		upd := maps.Clone(fields)
		upd["email_address"] = in.Email
		if in.Status != "" {
			upd["status"] = in.Status
		}
		out, _ = tx.Update(cur.ID, upd)
		return nil
	})
	if out.ID == "" {
		problem(w, http.StatusBadRequest, "Invalid Resource", "The resource submitted could not be validated.",
			map[string]string{"field": "status_if_new", "message": "status_if_new is required to add a new member."})
		return
	}
	fakekit.WriteJSON(w, http.StatusOK, renderMember(l.ID, out))
}

func cmp(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// memberTags is POST /lists/{list}/members/{hash}/tags: add (active) or
// remove (inactive) tags; 204 on success.
func (f *Fake) memberTags(w http.ResponseWriter, r *http.Request, c fakekit.Call) {
	l, ok := f.list(w, r, c)
	if !ok {
		return
	}
	var in struct {
		Tags []struct {
			Name   string `json:"name"`
			Status string `json:"status"`
		} `json:"tags"`
	}
	if err := jsonDecode(r, &in); err != nil {
		problem(w, http.StatusBadRequest, "JSON Schema Validation Failed", "The request body is not valid JSON: "+err.Error())
		return
	}
	found := false
	_ = f.kit.Records(c.Account, membersObject(l.ID)).Tx(func(tx *fakekit.Tx) error {
		m, ok := tx.Get(strings.ToLower(r.PathValue("hash")))
		if !ok {
			return nil
		}
		found = true
		tags := splitTags(m.Fields["tags"])
		for _, t := range in.Tags {
			switch t.Status {
			case "active":
				if !slices.Contains(tags, t.Name) {
					tags = append(tags, t.Name)
				}
			case "inactive":
				tags = slices.DeleteFunc(tags, func(s string) bool { return s == t.Name })
			}
		}
		_, _ = tx.Update(m.ID, map[string]string{"tags": strings.Join(tags, ",")})
		return nil
	})
	if !found {
		problem(w, http.StatusNotFound, "Resource Not Found", "The requested resource could not be found.")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (f *Fake) mergeFields(w http.ResponseWriter, r *http.Request, c fakekit.Call) {
	l, ok := f.list(w, r, c)
	if !ok {
		return
	}
	count, offset, ok := paging(w, r)
	if !ok {
		return
	}
	var all []map[string]any
	for i, mf := range mergeFields {
		all = append(all, map[string]any{"merge_id": i + 1, "tag": mf.Tag, "name": mf.Name, "type": mf.Type,
			"required": false, "default_value": "", "public": true, "display_order": i + 2, "list_id": l.ID})
	}
	fakekit.WriteJSON(w, http.StatusOK, map[string]any{"merge_fields": window(all, count, offset), "list_id": l.ID, "total_items": len(all)})
}

func (f *Fake) tagSearch(w http.ResponseWriter, r *http.Request, c fakekit.Call) {
	l, ok := f.list(w, r, c)
	if !ok {
		return
	}
	prefix := strings.ToLower(r.URL.Query().Get("name"))
	counts := map[string]int{}
	for _, m := range f.kit.Records(c.Account, membersObject(l.ID)).All() {
		for _, t := range splitTags(m.Fields["tags"]) {
			if strings.HasPrefix(strings.ToLower(t), prefix) {
				counts[t]++
			}
		}
	}
	names := slices.Sorted(maps.Keys(counts))
	tags := []map[string]any{}
	for _, n := range names {
		tags = append(tags, map[string]any{"id": hash("tag:" + n), "name": n})
	}
	fakekit.WriteJSON(w, http.StatusOK, map[string]any{"tags": tags, "total_items": len(tags)})
}
