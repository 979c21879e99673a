package airtable

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"patchbay/internal/fakes/fakekit"
)

// The single-record routes of the Web API that airtable.js calls (find,
// update and destroy of one record): GET, PATCH and DELETE
// /v0/{base}/{table}/{record}, and DELETE /v0/{base}/{table}?records[]=….

func (f *Fake) recordOr404(w http.ResponseWriter, r *http.Request, c fakekit.Call, base string) (table, fakekit.Record, bool) {
	t, ok := f.tableOr404(w, r, c, base)
	if !ok {
		return t, fakekit.Record{}, false
	}
	id, ok := storeID(r.PathValue("record"))
	var rec fakekit.Record
	if ok {
		rec, ok = f.store(c.Account, base, t).Get(id)
	}
	if !ok {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "Could not find what you are looking for")
	}
	return t, rec, ok
}

// getRecord is GET /v0/{base}/{table}/{record}.
func (f *Fake) getRecord(w http.ResponseWriter, r *http.Request, c fakekit.Call, base string) {
	if _, rec, ok := f.recordOr404(w, r, c, base); ok {
		fakekit.WriteJSON(w, http.StatusOK, render(rec, nil))
	}
}

// patchRecord is PATCH /v0/{base}/{table}/{record} with {"fields":…}.
func (f *Fake) patchRecord(w http.ResponseWriter, r *http.Request, c fakekit.Call, base string) {
	t, rec, ok := f.recordOr404(w, r, c, base)
	if !ok {
		return
	}
	var in writeRecord
	if err := decodeJSON(r, &in); err != nil {
		invalidRequest(w, err.Error())
		return
	}
	if !knownFields(w, t, in.Fields) {
		return
	}
	var saved fakekit.Record
	_ = f.store(c.Account, base, t).Tx(func(tx *fakekit.Tx) error {
		saved, _ = tx.Update(rec.ID, encode(in.Fields))
		return nil
	})
	fakekit.WriteJSON(w, http.StatusOK, render(saved, nil))
}

// deleteRecord is DELETE /v0/{base}/{table}/{record}.
func (f *Fake) deleteRecord(w http.ResponseWriter, r *http.Request, c fakekit.Call, base string) {
	t, rec, ok := f.recordOr404(w, r, c, base)
	if !ok {
		return
	}
	f.store(c.Account, base, t).Delete(rec.ID)
	fakekit.WriteJSON(w, http.StatusOK, map[string]any{"id": RecordID(rec.ID), "deleted": true})
}

// deleteRecords is DELETE /v0/{base}/{table}?records[]=…: up to 10, all or none.
func (f *Fake) deleteRecords(w http.ResponseWriter, r *http.Request, c fakekit.Call, base string) {
	t, ok := f.tableOr404(w, r, c, base)
	if !ok {
		return
	}
	recIDs := r.URL.Query()["records[]"]
	if len(recIDs) == 0 || len(recIDs) > maxWriteRecords {
		writeError(w, http.StatusUnprocessableEntity, "INVALID_RECORDS", fmt.Sprintf("A delete takes 1 to %d records; got %d.", maxWriteRecords, len(recIDs)))
		return
	}
	var missing string
	out := []map[string]any{}
	_ = f.store(c.Account, base, t).Tx(func(tx *fakekit.Tx) error {
		ids := make([]string, len(recIDs))
		for i, rid := range recIDs {
			id, ok := storeID(rid)
			if _, exists := tx.Get(id); !ok || !exists {
				missing = rid
				return nil
			}
			ids[i] = id
		}
		for i, id := range ids {
			tx.Delete(id)
			out = append(out, map[string]any{"id": recIDs[i], "deleted": true})
		}
		return nil
	})
	if missing != "" {
		writeError(w, http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("Record ID %s does not exist in this table", missing))
		return
	}
	fakekit.WriteJSON(w, http.StatusOK, map[string]any{"records": out})
}

// knownFields refuses a write naming a field the table does not have.
func knownFields(w http.ResponseWriter, t table, fields map[string]any) bool {
	for k := range fields {
		if !containsField(t, k) {
			writeError(w, http.StatusUnprocessableEntity, "UNKNOWN_FIELD_NAME", fmt.Sprintf("Unknown field name: %q", k))
			return false
		}
	}
	return true
}

func containsField(t table, name string) bool {
	return slices.Contains(t.fields, name)
}

// sortSpec is one sort[n] of a list: a field and asc or desc.
type sortSpec struct {
	field string
	desc  bool
}

// parseSort reads sort[0][field], sort[0][direction], sort[1]… of a list.
func parseSort(w http.ResponseWriter, q url.Values, t table) ([]sortSpec, bool) {
	var out []sortSpec
	for i := 0; ; i++ {
		field := q.Get(fmt.Sprintf("sort[%d][field]", i))
		if field == "" {
			return out, true
		}
		if !containsField(t, field) {
			writeError(w, http.StatusUnprocessableEntity, "UNKNOWN_FIELD_NAME", fmt.Sprintf("Unknown field name: %q", field))
			return nil, false
		}
		dir := q.Get(fmt.Sprintf("sort[%d][direction]", i))
		if dir != "" && dir != "asc" && dir != "desc" {
			invalidRequest(w, fmt.Sprintf("sort[%d][direction] must be asc or desc", i))
			return nil, false
		}
		out = append(out, sortSpec{field: field, desc: dir == "desc"})
	}
}

// sortRecords orders records by the sorts; empty values sort first, as
// Airtable's ascending sort puts them.
func sortRecords(recs []fakekit.Record, sorts []sortSpec) {
	slices.SortStableFunc(recs, func(a, b fakekit.Record) int {
		for _, s := range sorts {
			va, vb := decodeValue(a.Fields[s.field]), decodeValue(b.Fields[s.field])
			n, ok := cmp(va, vb)
			if !ok {
				n = strings.Compare(fmt.Sprint(va), fmt.Sprint(vb))
			}
			if s.desc {
				n = -n
			}
			if n != 0 {
				return n
			}
		}
		return 0
	})
}
