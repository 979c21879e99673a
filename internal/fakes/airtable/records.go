package airtable

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"patchbay/internal/fakes/fakekit"
)

func (f *Fake) store(account, base string, t table) *fakekit.Store {
	return f.kit.Records(account, base+"/"+t.name)
}

// SeedRecords stores records (flat maps of fields) in a table of one of
// account's bases; it returns the record ids Airtable would show.
func (f *Fake) SeedRecords(account, base, tableName string, records []map[string]any) ([]string, error) {
	t, ok := f.lookupTable(account, base, tableName)
	if !ok {
		return nil, fmt.Errorf("airtable fake: no table %q in base %s", tableName, base)
	}
	var ids []string
	err := f.store(account, base, t).Tx(func(tx *fakekit.Tx) error {
		for _, rec := range records {
			ids = append(ids, RecordID(tx.Create(encode(rec)).ID))
		}
		return nil
	})
	return ids, err
}

// Records returns what a table holds, each as its API shape.
func (f *Fake) Records(account, base, tableName string) []map[string]any {
	t, _ := f.lookupTable(account, base, tableName)
	var out []map[string]any
	for _, r := range f.store(account, base, t).All() {
		out = append(out, render(r, nil))
	}
	return out
}

// RecordID is the Airtable id of a stored record.
func RecordID(storeID string) string {
	return "rec" + strings.Repeat("0", max(14-len(storeID), 0)) + storeID
}

func storeID(recID string) (string, bool) {
	if len(recID) != 17 || !strings.HasPrefix(recID, "rec") {
		return "", false
	}
	n := strings.TrimLeft(recID[3:], "0")
	_, err := strconv.Atoi(n)
	return n, err == nil
}

// encode stores field values: strings as they are, other JSON values as
// JSON. A string that would read back as another type ("5550100", "true")
// is stored as a JSON string, so text stays text.
func encode(fields map[string]any) map[string]string {
	out := make(map[string]string, len(fields))
	for k, v := range fields {
		switch v := v.(type) {
		case nil:
			out[k] = ""
		case string:
			out[k] = v
			if _, text := decodeValue(v).(string); !text || strings.HasPrefix(v, `"`) {
				b, _ := json.Marshal(v)
				out[k] = string(b)
			}
		default:
			b, _ := json.Marshal(v)
			out[k] = string(b)
		}
	}
	return out
}

// decodeValue is the inverse of encode: a stored JSON number, boolean or
// array comes back typed, anything else as a string.
func decodeValue(s string) any {
	if s == "true" || strings.HasPrefix(s, `"`) || s == "false" || strings.HasPrefix(s, "[") || strings.HasPrefix(s, "{") || s != "" && (s[0] == '-' || s[0] >= '0' && s[0] <= '9') {
		var v any
		if json.Unmarshal([]byte(s), &v) == nil {
			return v
		}
	}
	return s
}

// timeFormat is how Airtable writes instants.
const timeFormat = "2006-01-02T15:04:05.000Z"

// render is a record as the API returns it; empty fields are left out, as
// Airtable does. want limits the fields when not empty.
func render(r fakekit.Record, want []string) map[string]any {
	fields := map[string]any{}
	for k, v := range r.Fields {
		if v != "" && (len(want) == 0 || slices.Contains(want, k)) {
			fields[k] = decodeValue(v)
		}
	}
	return map[string]any{"id": RecordID(r.ID), "createdTime": r.CreatedAt.UTC().Format(timeFormat), "fields": fields}
}

func decodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 8<<20))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("the request body is not valid JSON: %w", err)
	}
	return nil
}

func invalidRequest(w http.ResponseWriter, msg string) {
	writeError(w, http.StatusUnprocessableEntity, "INVALID_REQUEST_UNKNOWN", msg)
}

func (f *Fake) tableOr404(w http.ResponseWriter, r *http.Request, c fakekit.Call, base string) (table, bool) {
	t, ok := f.lookupTable(c.Account, base, r.PathValue("table"))
	if !ok {
		writeError(w, http.StatusNotFound, "TABLE_NOT_FOUND", fmt.Sprintf("Could not find table %s in application %s", r.PathValue("table"), base))
	}
	return t, ok
}

// list is GET /v0/{base}/{table}: pageSize (≤ 100), offset, filterByFormula, fields[].
func (f *Fake) list(w http.ResponseWriter, r *http.Request, c fakekit.Call, base string) {
	t, ok := f.tableOr404(w, r, c, base)
	if !ok {
		return
	}
	q := r.URL.Query()
	size := maxPageSize
	if v := q.Get("pageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPageSize {
			invalidRequest(w, fmt.Sprintf("pageSize must be a whole number from 1 to %d", maxPageSize))
			return
		}
		size = n
	}
	var cond expr
	if src := q.Get("filterByFormula"); src != "" {
		var err error
		if cond, err = parseFormula(src, t); err != nil {
			writeError(w, http.StatusUnprocessableEntity, "INVALID_FILTER_BY_FORMULA", "The formula for filtering records is invalid: "+err.Error())
			return
		}
	}
	after := ""
	if off := q.Get("offset"); off != "" {
		_, rec, _ := strings.Cut(off, "/")
		id, ok := storeID(rec)
		if !strings.HasPrefix(off, "itr") || !ok {
			writeError(w, http.StatusUnprocessableEntity, "LIST_RECORDS_ITERATOR_NOT_AVAILABLE", "The offset is not one this table gave, or it expired.")
			return
		}
		after = id
	}
	maxRecords := 0
	if v := q.Get("maxRecords"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			invalidRequest(w, "maxRecords must be a positive whole number")
			return
		}
		maxRecords = n
	}
	sorts, ok := parseSort(w, q, t)
	if !ok {
		return
	}
	want := q["fields[]"]
	var page []map[string]any
	next := ""
	all := f.store(c.Account, base, t).All()
	if len(sorts) > 0 {
		sortRecords(all, sorts)
	}
	start := 0
	if after != "" {
		// The offset names the last record served; resume after it in this order.
		start = slices.IndexFunc(all, func(r fakekit.Record) bool { return r.ID == after }) + 1
		if start == 0 && len(sorts) == 0 {
			start = slices.IndexFunc(all, func(r fakekit.Record) bool { return !lessID(r.ID, after) && r.ID != after })
		}
		if start < 0 {
			start = len(all)
		}
	}
	served := 0
	if after != "" && maxRecords > 0 {
		// Records before the offset count against maxRecords too.
		for _, rec := range all[:start] {
			if cond == nil || truthy(cond.eval(rec)) {
				served++
			}
		}
	}
	for _, rec := range all[start:] {
		if cond != nil && !truthy(cond.eval(rec)) {
			continue
		}
		if maxRecords > 0 && served+len(page) == maxRecords {
			break
		}
		if len(page) == size {
			b := make([]byte, 7)
			_, _ = rand.Read(b)
			next = "itr" + hex.EncodeToString(b) + "/" + page[len(page)-1]["id"].(string)
			break
		}
		page = append(page, render(rec, want))
	}
	body := map[string]any{"records": append([]map[string]any{}, page...)}
	if next != "" {
		body["offset"] = next
	}
	fakekit.WriteJSON(w, http.StatusOK, body)
}

// lessID orders the fake's numeric store ids.
func lessID(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

type writeRecord struct {
	ID     string         `json:"id"`
	Fields map[string]any `json:"fields"`
}

type writeBody struct {
	Records []writeRecord `json:"records"`
	// Fields is the body of a single-record create ({"fields":…}), as
	// airtable.js sends it for create(fields); the answer is then the record.
	Fields        map[string]any `json:"fields"`
	Typecast      bool           `json:"typecast"`
	PerformUpsert *struct {
		FieldsToMergeOn []string `json:"fieldsToMergeOn"`
	} `json:"performUpsert"`
}

// readWrite decodes and checks a write: 1 to 10 records, known fields.
func readWrite(w http.ResponseWriter, r *http.Request, t table) (writeBody, bool) {
	var in writeBody
	if err := decodeJSON(r, &in); err != nil {
		invalidRequest(w, err.Error())
		return in, false
	}
	if len(in.Records) == 0 && in.Fields != nil {
		in.Records = []writeRecord{{Fields: in.Fields}}
	}
	if len(in.Records) == 0 || len(in.Records) > maxWriteRecords {
		writeError(w, http.StatusUnprocessableEntity, "INVALID_RECORDS", fmt.Sprintf("A write takes 1 to %d records; got %d.", maxWriteRecords, len(in.Records)))
		return in, false
	}
	for _, rec := range in.Records {
		for k := range rec.Fields {
			if !slices.Contains(t.fields, k) {
				writeError(w, http.StatusUnprocessableEntity, "UNKNOWN_FIELD_NAME", fmt.Sprintf("Unknown field name: %q", k))
				return in, false
			}
		}
	}
	return in, true
}

// create is POST /v0/{base}/{table}: all records or none.
func (f *Fake) create(w http.ResponseWriter, r *http.Request, c fakekit.Call, base string) {
	t, ok := f.tableOr404(w, r, c, base)
	if !ok {
		return
	}
	in, ok := readWrite(w, r, t)
	if !ok {
		return
	}
	out := []map[string]any{}
	_ = f.store(c.Account, base, t).Tx(func(tx *fakekit.Tx) error {
		for _, rec := range in.Records {
			out = append(out, render(tx.Create(encode(rec.Fields)), nil))
		}
		return nil
	})
	if in.Fields != nil {
		fakekit.WriteJSON(w, http.StatusOK, out[0])
		return
	}
	fakekit.WriteJSON(w, http.StatusOK, map[string]any{"records": out})
}

// update is PATCH /v0/{base}/{table}: by id, or an upsert with performUpsert.
func (f *Fake) update(w http.ResponseWriter, r *http.Request, c fakekit.Call, base string) {
	t, ok := f.tableOr404(w, r, c, base)
	if !ok {
		return
	}
	in, ok := readWrite(w, r, t)
	if !ok {
		return
	}
	var merge []string
	if in.PerformUpsert != nil {
		merge = in.PerformUpsert.FieldsToMergeOn
		if len(merge) == 0 || slices.ContainsFunc(merge, func(m string) bool { return !slices.Contains(t.fields, m) }) {
			invalidRequest(w, "performUpsert.fieldsToMergeOn must name 1 to 3 fields of the table")
			return
		}
	}
	out := []map[string]any{}
	var created, updated []string
	var problem func()
	_ = f.store(c.Account, base, t).Tx(func(tx *fakekit.Tx) error {
		ids := make([]string, len(in.Records))
		for i, rec := range in.Records { // check everything first: all or nothing
			switch {
			case merge == nil:
				id, ok := storeID(rec.ID)
				if _, exists := tx.Get(id); !ok || !exists {
					problem = func() {
						writeError(w, http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("Record ID %s does not exist in this table", rec.ID))
					}
					return nil
				}
				ids[i] = id
			default:
				var hits []string
				for _, have := range tx.All() {
					if !slices.ContainsFunc(merge, func(m string) bool { return have.Fields[m] != encode(map[string]any{m: rec.Fields[m]})[m] }) {
						hits = append(hits, have.ID)
					}
				}
				if len(hits) > 1 {
					problem = func() {
						writeError(w, http.StatusUnprocessableEntity, "INVALID_RECORDS", "More than one record matches the fields to merge on.")
					}
					return nil
				}
				if len(hits) == 1 {
					ids[i] = hits[0]
				}
			}
		}
		for i, rec := range in.Records {
			var saved fakekit.Record
			if ids[i] == "" {
				saved = tx.Create(encode(rec.Fields))
				created = append(created, RecordID(saved.ID))
			} else {
				saved, _ = tx.Update(ids[i], encode(rec.Fields))
				updated = append(updated, RecordID(saved.ID))
			}
			out = append(out, render(saved, nil))
		}
		return nil
	})
	if problem != nil {
		problem()
		return
	}
	body := map[string]any{"records": out}
	if merge != nil {
		body["createdRecords"], body["updatedRecords"] = nonNil(created), nonNil(updated)
	}
	fakekit.WriteJSON(w, http.StatusOK, body)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
