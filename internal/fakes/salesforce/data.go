package salesforce

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"patchbay/internal/fakes/fakekit"
)

// Salesforce's documented sizes.
const (
	defaultBatch  = 2000 // records per query page
	minBatch      = 200
	collectionMax = 200 // records per sObject Collections request
)

// query is GET /services/data/vXX.X/query?q=SOQL.
func (f *Fake) query(w http.ResponseWriter, r *http.Request, c fakekit.Call) {
	q, err := parseQuery(r.URL.Query().Get("q"))
	if err != nil {
		qe := err.(*queryError)
		writeErrors(w, http.StatusBadRequest, qe.code, qe.msg)
		return
	}
	cur := &cursor{account: c.Account, def: q.def, fields: q.fields, batch: batchSize(r), used: f.kit.Now()}
	cur.ids = q.run(f.kit.Records(c.Account, q.def.name).All())
	if q.count {
		fakekit.WriteJSON(w, http.StatusOK, map[string]any{"totalSize": len(cur.ids), "done": true, "records": []any{}})
		return
	}
	f.page(w, r, cur, 0)
}

// batchSize reads the Sforce-Query-Options header (batchSize=N, 200 to 2000).
func batchSize(r *http.Request) int {
	for _, opt := range strings.Split(r.Header.Get("Sforce-Query-Options"), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(opt), "=")
		if n, err := strconv.Atoi(v); strings.EqualFold(k, "batchSize") && err == nil {
			return min(max(n, minBatch), defaultBatch)
		}
	}
	return defaultBatch
}

// queryMore is GET /services/data/vXX.X/query/{locator}-{offset}, the
// nextRecordsUrl of a previous page.
func (f *Fake) queryMore(w http.ResponseWriter, r *http.Request, c fakekit.Call) {
	loc, off, ok := strings.Cut(r.PathValue("locator"), "-")
	offset, err := strconv.Atoi(off)
	f.mu.Lock()
	cur := f.cursors[loc]
	now := f.kit.Now()
	for id, cu := range f.cursors {
		if now.Sub(cu.used) > locatorTTL {
			delete(f.cursors, id)
		}
	}
	f.mu.Unlock()
	if !ok || err != nil || cur == nil || cur.account != c.Account || offset < 0 || offset > len(cur.ids) || now.Sub(cur.used) > locatorTTL {
		writeErrors(w, http.StatusBadRequest, "INVALID_QUERY_LOCATOR", "invalid query locator")
		return
	}
	f.page(w, r, cur, offset)
}

func (f *Fake) page(w http.ResponseWriter, r *http.Request, cur *cursor, offset int) {
	end := min(offset+cur.batch, len(cur.ids))
	store := f.kit.Records(cur.account, cur.def.name)
	records := make([]map[string]any, 0, end-offset)
	for _, id := range cur.ids[offset:end] {
		if rec, ok := store.Get(id); ok {
			records = append(records, cur.def.render(rec, cur.fields))
		}
	}
	body := map[string]any{"totalSize": len(cur.ids), "done": end == len(cur.ids), "records": records}
	if end < len(cur.ids) {
		loc, _ := strings.CutSuffix(r.PathValue("locator"), "-"+strconv.Itoa(offset))
		if loc == "" {
			b := make([]byte, 6)
			_, _ = rand.Read(b)
			loc = "01g" + hex.EncodeToString(b)
		}
		cur.used = f.kit.Now()
		f.mu.Lock()
		f.cursors[loc] = cur
		f.mu.Unlock()
		body["nextRecordsUrl"] = "/services/data/" + r.PathValue("version") + "/query/" + loc + "-" + strconv.Itoa(end)
	}
	fakekit.WriteJSON(w, http.StatusOK, body)
}

// collection is the body of an sObject Collections request.
type collection struct {
	AllOrNone bool             `json:"allOrNone"`
	Records   []map[string]any `json:"records"`
}

// saveResult is one element of a collection answer.
type saveResult struct {
	ID      string       `json:"id,omitempty"`
	Success bool         `json:"success"`
	Errors  []fieldError `json:"errors"`
	Created *bool        `json:"created,omitempty"` // upserts only
}

type fieldError struct {
	StatusCode string   `json:"statusCode"`
	Message    string   `json:"message"`
	Fields     []string `json:"fields"`
}

func failed(code, msg string, fields ...string) saveResult {
	if fields == nil {
		fields = []string{}
	}
	return saveResult{Errors: []fieldError{{StatusCode: code, Message: msg, Fields: fields}}}
}

func readCollection(w http.ResponseWriter, r *http.Request) (collection, bool) {
	var in collection
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 8<<20)).Decode(&in); err != nil {
		writeErrors(w, http.StatusBadRequest, "JSON_PARSER_ERROR", "The request body is not valid JSON: "+err.Error())
		return in, false
	}
	if len(in.Records) > collectionMax {
		writeErrors(w, http.StatusBadRequest, "EXCEEDED_ID_LIMIT", fmt.Sprintf("record limit reached. cannot submit more than %d records into this call", collectionMax))
		return in, false
	}
	return in, true
}

// pending is a record of a collection, checked and ready to be saved.
type pending struct {
	def    *objectDef
	id     string // store id for updates
	fields map[string]string
}

// check validates one collection record: its type, its fields and, for
// creates, the required ones.
func check(rec map[string]any, wantType string, create bool) (pending, *saveResult) {
	attrs, _ := rec["attributes"].(map[string]any)
	typ, _ := attrs["type"].(string)
	if typ == "" {
		r := failed("INVALID_TYPE", "Each record needs an attributes map with its type.")
		return pending{}, &r
	}
	def, ok := lookupObject(typ)
	if !ok || wantType != "" && !strings.EqualFold(def.name, wantType) {
		r := failed("INVALID_TYPE", fmt.Sprintf("sObject type '%s' is not supported here.", typ))
		return pending{}, &r
	}
	p := pending{def: def, fields: map[string]string{}}
	for k, v := range rec {
		switch {
		case k == "attributes":
			continue
		case strings.EqualFold(k, "id"):
			p.id, _ = v.(string)
			continue
		}
		f, ok := def.field(k)
		if !ok {
			r := failed("INVALID_FIELD", fmt.Sprintf("No such column '%s' on sobject of type %s", k, def.name), k)
			return pending{}, &r
		}
		if f.readOnly {
			r := failed("INVALID_FIELD_FOR_INSERT_UPDATE", fmt.Sprintf("Unable to create/update fields: %s. Please check the security settings of this field and verify that it is read/write for your profile or permission set.", f.name), f.name)
			return pending{}, &r
		}
		s := fakekit.Stringify(v)
		if f.typ == typeInt && s != "" {
			if _, err := strconv.ParseFloat(s, 64); err != nil {
				r := failed("INVALID_TYPE_ON_FIELD_IN_RECORD", fmt.Sprintf("%s: value not of required type: %s", f.name, s), f.name)
				return pending{}, &r
			}
		}
		p.fields[f.name] = s
	}
	if create {
		var missing []string
		for _, f := range def.fields {
			if f.required && p.fields[f.name] == "" {
				missing = append(missing, f.name)
			}
		}
		if len(missing) > 0 {
			r := failed("REQUIRED_FIELD_MISSING", "Required fields are missing: ["+strings.Join(missing, ", ")+"]", missing...)
			return pending{}, &r
		}
	}
	return p, nil
}

// finish answers a collection: with allOrNone, one failure rolls back all.
func finish(w http.ResponseWriter, in collection, results []saveResult, save func()) {
	if in.AllOrNone {
		for _, res := range results {
			if !res.Success {
				for i := range results {
					if results[i].Success {
						results[i] = failed("ALL_OR_NONE_OPERATION_ROLLED_BACK", "Record rolled back because not all records were valid and the request was using AllOrNone header")
					}
				}
				fakekit.WriteJSON(w, http.StatusOK, results)
				return
			}
		}
	}
	save()
	fakekit.WriteJSON(w, http.StatusOK, results)
}

// create is POST /composite/sobjects.
func (f *Fake) create(w http.ResponseWriter, r *http.Request, c fakekit.Call) {
	in, ok := readCollection(w, r)
	if !ok {
		return
	}
	results := make([]saveResult, len(in.Records))
	todo := make([]*pending, len(in.Records))
	for i, rec := range in.Records {
		p, bad := check(rec, "", true)
		switch {
		case bad != nil:
			results[i] = *bad
		case p.id != "":
			results[i] = failed("INVALID_FIELD", "cannot specify Id in an insert call", "Id")
		default:
			results[i] = saveResult{Success: true, Errors: []fieldError{}}
			todo[i] = &p
		}
	}
	finish(w, in, results, func() {
		for i, p := range todo {
			if p == nil {
				continue
			}
			if p.def.name == "Lead" && p.fields["Status"] == "" {
				p.fields["Status"] = "Open - Not Contacted" // the org's default lead status
			}
			var rec fakekit.Record
			_ = f.kit.Records(c.Account, p.def.name).Tx(func(tx *fakekit.Tx) error { rec = tx.Create(p.fields); return nil })
			results[i].ID = sfid(p.def.prefix, rec.ID)
		}
	})
}

// update is PATCH /composite/sobjects: records carry their id.
func (f *Fake) update(w http.ResponseWriter, r *http.Request, c fakekit.Call) {
	in, ok := readCollection(w, r)
	if !ok {
		return
	}
	results := make([]saveResult, len(in.Records))
	todo := make([]*pending, len(in.Records))
	for i, rec := range in.Records {
		p, bad := check(rec, "", false)
		if bad != nil {
			results[i] = *bad
			continue
		}
		sid, ok := storeID(p.def.prefix, p.id)
		if !ok {
			results[i] = failed("MALFORMED_ID", fmt.Sprintf("%s ID: id value of incorrect type: %s", p.def.name, p.id), "Id")
			continue
		}
		if _, exists := f.kit.Records(c.Account, p.def.name).Get(sid); !exists {
			results[i] = failed("ENTITY_IS_DELETED", "entity is deleted")
			continue
		}
		p.id = sid
		results[i] = saveResult{ID: sfid(p.def.prefix, sid), Success: true, Errors: []fieldError{}}
		todo[i] = &p
	}
	finish(w, in, results, func() {
		for _, p := range todo {
			if p != nil {
				_ = f.kit.Records(c.Account, p.def.name).Tx(func(tx *fakekit.Tx) error { tx.Update(p.id, p.fields); return nil })
			}
		}
	})
}

// upsert is PATCH /composite/sobjects/{object}/{externalIdField}.
func (f *Fake) upsert(w http.ResponseWriter, r *http.Request, c fakekit.Call) {
	def, ok := lookupObject(r.PathValue("object"))
	if !ok {
		writeErrors(w, http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
		return
	}
	ext, ok := def.field(r.PathValue("field"))
	if !ok || !ext.externalID {
		writeErrors(w, http.StatusBadRequest, "INVALID_FIELD", fmt.Sprintf("Field %s is not an External ID field of %s", r.PathValue("field"), def.name))
		return
	}
	in, ok := readCollection(w, r)
	if !ok {
		return
	}
	store := f.kit.Records(c.Account, def.name)
	results := make([]saveResult, len(in.Records))
	_ = store.Tx(func(tx *fakekit.Tx) error {
		todo := make([]*pending, len(in.Records))
		matches := make([][]fakekit.Record, len(in.Records))
		for i, rec := range in.Records {
			p, bad := check(rec, def.name, false)
			switch {
			case bad != nil:
				results[i] = *bad
				continue
			case p.id != "":
				results[i] = failed("INVALID_FIELD", "Don't set the Id field in an upsert by external id", "Id")
				continue
			case p.fields[ext.name] == "":
				results[i] = failed("MISSING_ARGUMENT", ext.name+" not specified", ext.name)
				continue
			}
			for _, r := range tx.All() {
				if strings.EqualFold(r.Fields[ext.name], p.fields[ext.name]) {
					matches[i] = append(matches[i], r)
				}
			}
			if len(matches[i]) > 1 {
				results[i] = failed("DUPLICATE_EXTERNAL_ID", fmt.Sprintf("%s: more than one record found for external id field: %s", ext.name, p.fields[ext.name]), ext.name)
				continue
			}
			if len(matches[i]) == 0 {
				if _, bad := check(rec, def.name, true); bad != nil {
					results[i] = *bad
					continue
				}
			}
			results[i] = saveResult{Success: true, Errors: []fieldError{}}
			todo[i] = &p
		}
		finish(w, in, results, func() {
			for i, p := range todo {
				if p == nil {
					continue
				}
				created := len(matches[i]) == 0
				var id string
				if created {
					id = tx.Create(p.fields).ID
				} else {
					id = matches[i][0].ID
					tx.Update(id, p.fields)
				}
				results[i].ID, results[i].Created = sfid(def.prefix, id), &created
			}
		})
		return nil
	})
}
