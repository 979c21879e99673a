package hubspot

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"patchbay/internal/fakes/fakekit"
)

// HubSpot's documented limits of the objects API.
const (
	defaultListLimit = 10
	maxListLimit     = 100
	maxBatchInputs   = 100
)

// apiError is a HubSpot error answer, returned by the parts of a handler
// that decide and written once by the handler.
type apiError struct {
	status   int
	category string
	message  string
	extra    map[string]any
}

func (e *apiError) write(w http.ResponseWriter) {
	writeError(w, e.status, e.category, e.message, e.extra)
}

func invalid(message string, extra map[string]any) *apiError {
	return &apiError{status: http.StatusBadRequest, category: "VALIDATION_ERROR", message: message, extra: extra}
}

func (f *Fake) list(w http.ResponseWriter, r *http.Request, c fakekit.Call, def *objectDef) {
	q := r.URL.Query()
	limit, ok := parseLimit(q.Get("limit"), defaultListLimit, maxListLimit)
	if !ok {
		validationError(w, fmt.Sprintf("limit must be a whole number from 1 to %d.", maxListLimit), nil)
		return
	}
	recs, next := f.kit.Records(c.Account, def.name).Page(q.Get("after"), limit)
	props := splitProps(q["properties"])
	results := make([]apiObject, 0, len(recs))
	for _, rec := range recs {
		results = append(results, def.render(rec, props))
	}
	body := map[string]any{"results": results}
	if next != "" {
		// A relative link resolves against whatever prefix the fake is mounted under.
		q.Set("after", next)
		body["paging"] = map[string]any{"next": map[string]string{"after": next, "link": "?" + q.Encode()}}
	}
	fakekit.WriteJSON(w, http.StatusOK, body)
}

func (f *Fake) getOne(w http.ResponseWriter, r *http.Request, c fakekit.Call, def *objectDef) {
	q := r.URL.Query()
	id, idProp := r.PathValue("id"), q.Get("idProperty")
	var rec fakekit.Record
	var found bool
	if idProp != "" {
		if p, ok := def.prop(idProp); !ok || !p.Unique {
			validationError(w, idProp+" is not a property with unique values of "+def.name+".", nil)
			return
		}
		_ = f.kit.Records(c.Account, def.name).Tx(func(tx *fakekit.Tx) error {
			rec, found = tx.Find(func(r fakekit.Record) bool { return strings.EqualFold(r.Fields[idProp], id) })
			return nil
		})
	} else {
		rec, found = f.kit.Records(c.Account, def.name).Get(id)
	}
	if !found {
		notFound(def, []string{id}).write(w)
		return
	}
	fakekit.WriteJSON(w, http.StatusOK, def.render(rec, splitProps(q["properties"])))
}

func notFound(def *objectDef, ids []string) *apiError {
	return &apiError{status: http.StatusNotFound, category: "OBJECT_NOT_FOUND",
		message: fmt.Sprintf("Could not find some %s; they may have been deleted or never existed. Check the ids.", def.name),
		extra:   map[string]any{"context": map[string][]string{"ids": ids}}}
}

func (f *Fake) createOne(w http.ResponseWriter, r *http.Request, c fakekit.Call, def *objectDef) {
	var in batchInput
	if err := decodeJSON(r, &in); err != nil {
		err.write(w)
		return
	}
	fields, err := def.checkWrite(in.Properties)
	if err != nil {
		err.write(w)
		return
	}
	recs, err := f.create(c.Account, def, []map[string]string{fields})
	if err != nil {
		err.write(w)
		return
	}
	fakekit.WriteJSON(w, http.StatusCreated, def.render(recs[0], slices.Collect(maps.Keys(fields))))
}

// batchInput is one input of a batch call (and the body of a single create).
type batchInput struct {
	ID                 string         `json:"id"`
	IDProperty         string         `json:"idProperty"`
	Properties         map[string]any `json:"properties"`
	ObjectWriteTraceID string         `json:"objectWriteTraceId"`
}

type batchRequest struct {
	Inputs     []batchInput `json:"inputs"`
	Properties []string     `json:"properties"` // batch/read
	IDProperty string       `json:"idProperty"` // batch/read
}

func decodeJSON(r *http.Request, v any) *apiError {
	dec := json.NewDecoder(io.LimitReader(r.Body, 10<<20))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return invalid("Invalid input JSON: "+err.Error(), nil)
	}
	return nil
}

func decodeBatch(r *http.Request) (batchRequest, *apiError) {
	var req batchRequest
	if err := decodeJSON(r, &req); err != nil {
		return req, err
	}
	if len(req.Inputs) > maxBatchInputs {
		return req, invalid(fmt.Sprintf("Batch input holds %d items; at most %d are allowed per request.", len(req.Inputs), maxBatchInputs), nil)
	}
	return req, nil
}

// checkWrite converts written property values to HubSpot's strings and
// refuses properties that do not exist, are read-only or have the wrong type.
func (o *objectDef) checkWrite(props map[string]any) (map[string]string, *apiError) {
	fields := make(map[string]string, len(props))
	var errs []map[string]any
	for _, name := range slices.Sorted(maps.Keys(props)) {
		v := fakekit.Stringify(props[name])
		p, ok := o.prop(name)
		code, msg := "", ""
		switch {
		case !ok:
			code, msg = "PROPERTY_DOESNT_EXIST", fmt.Sprintf("Property %q does not exist on %s.", name, o.name)
		case p.ReadOnly:
			code, msg = "READ_ONLY_VALUE", fmt.Sprintf("Property %q is read-only.", name)
		case p.Type == "number" && v != "" && !isNumber(v):
			code, msg = "INVALID_DOUBLE", fmt.Sprintf("%q is not a number, as property %q requires.", v, name)
		}
		if code != "" {
			errs = append(errs, map[string]any{"message": msg, "code": code, "context": map[string][]string{"propertyName": {name}}})
			continue
		}
		fields[name] = v
	}
	if len(errs) > 0 {
		return nil, invalid("Property values were not valid.", map[string]any{"errors": errs})
	}
	return fields, nil
}

func isNumber(s string) bool {
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

// uniqueIndex looks values of def's unique properties up in the store's
// incremental index (lower-cased, as HubSpot compares e-mails).
type uniqueIndex struct {
	tx    *fakekit.Tx
	names []string
}

func newUniqueIndex(tx *fakekit.Tx, def *objectDef) uniqueIndex {
	idx := uniqueIndex{tx: tx}
	for _, p := range def.props {
		if p.Unique {
			idx.names = append(idx.names, p.Name)
		}
	}
	return idx
}

// holder is the id of the record whose property name holds value.
func (u uniqueIndex) holder(name, value string) (string, bool) {
	if value == "" {
		return "", false
	}
	return u.tx.Lookup(name, value)
}

// conflict is HubSpot's answer to a second record with a unique value.
func conflict(def *objectDef, existingID string) *apiError {
	return &apiError{status: http.StatusConflict, category: "CONFLICT",
		message: fmt.Sprintf("A %s with this unique value already exists. Existing ID: %s", def.label, existingID)}
}

// create writes new records, all or none: a unique value already taken (or
// taken twice in the batch) refuses the whole batch with 409.
func (f *Fake) create(account string, def *objectDef, all []map[string]string) ([]fakekit.Record, *apiError) {
	var out []fakekit.Record
	var failed *apiError
	_ = f.kit.Records(account, def.name).Tx(func(tx *fakekit.Tx) error {
		idx := newUniqueIndex(tx, def)
		claimed := map[string]bool{}
		for _, fields := range all {
			for _, name := range idx.names {
				v := strings.ToLower(fields[name])
				if v == "" {
					continue
				}
				if id, taken := idx.holder(name, v); taken {
					failed = conflict(def, id)
					return nil
				}
				if claimed[name+"\x00"+v] {
					failed = invalid(fmt.Sprintf("Two inputs of the batch have the same %s %q.", name, fields[name]), nil)
					return nil
				}
				claimed[name+"\x00"+v] = true
			}
		}
		for _, fields := range all {
			out = append(out, tx.Create(fields))
		}
		return nil
	})
	return out, failed
}

func (f *Fake) batchCreate(w http.ResponseWriter, r *http.Request, c fakekit.Call, def *objectDef) {
	req, err := decodeBatch(r)
	if err != nil {
		err.write(w)
		return
	}
	all := make([]map[string]string, len(req.Inputs))
	for i, in := range req.Inputs {
		if all[i], err = def.checkWrite(in.Properties); err != nil {
			err.write(w)
			return
		}
	}
	recs, err := f.create(c.Account, def, all)
	if err != nil {
		err.write(w)
		return
	}
	results := make([]apiObject, len(recs))
	for i, rec := range recs {
		results[i] = def.render(rec, slices.Collect(maps.Keys(all[i])))
		results[i].ObjectWriteTraceID = req.Inputs[i].ObjectWriteTraceID
	}
	f.batchAnswer(w, http.StatusCreated, results, nil)
}

func (f *Fake) batchUpdate(w http.ResponseWriter, r *http.Request, c fakekit.Call, def *objectDef) {
	req, err := decodeBatch(r)
	if err != nil {
		err.write(w)
		return
	}
	all := make([]map[string]string, len(req.Inputs))
	seen := map[string]bool{}
	for i, in := range req.Inputs {
		if in.IDProperty != "" && in.IDProperty != "hs_object_id" {
			validationError(w, "batch/update finds records by id; use batch/upsert to match on "+in.IDProperty+".", nil)
			return
		}
		if in.ID == "" || seen[in.ID] {
			validationError(w, fmt.Sprintf("Every input needs a distinct id; input %d has %q.", i, in.ID), nil)
			return
		}
		seen[in.ID] = true
		if all[i], err = def.checkWrite(in.Properties); err != nil {
			err.write(w)
			return
		}
	}
	var results []apiObject
	_ = f.kit.Records(c.Account, def.name).Tx(func(tx *fakekit.Tx) error {
		var missing []string
		for _, in := range req.Inputs {
			if _, ok := tx.Get(in.ID); !ok {
				missing = append(missing, in.ID)
			}
		}
		if len(missing) > 0 {
			// HubSpot refuses the whole batch, writing nothing.
			err = notFound(def, missing)
			return nil
		}
		idx := newUniqueIndex(tx, def)
		for i, in := range req.Inputs {
			for _, name := range idx.names {
				if owner, taken := idx.holder(name, all[i][name]); taken && owner != in.ID {
					err = conflict(def, owner)
					return nil
				}
			}
		}
		for i, in := range req.Inputs {
			rec, _ := tx.Update(in.ID, all[i])
			o := def.render(rec, slices.Collect(maps.Keys(all[i])))
			o.ObjectWriteTraceID = in.ObjectWriteTraceID
			results = append(results, o)
		}
		return nil
	})
	if err != nil {
		err.write(w)
		return
	}
	f.batchAnswer(w, http.StatusOK, results, nil)
}

func (f *Fake) batchUpsert(w http.ResponseWriter, r *http.Request, c fakekit.Call, def *objectDef) {
	req, err := decodeBatch(r)
	if err != nil {
		err.write(w)
		return
	}
	all := make([]map[string]string, len(req.Inputs))
	seen := map[string]bool{}
	for i, in := range req.Inputs {
		if p, ok := def.prop(in.IDProperty); !ok || !p.Unique || p.ReadOnly {
			validationError(w, fmt.Sprintf("Upsert needs an idProperty with unique values; %q is not one on %s.", in.IDProperty, def.name), nil)
			return
		}
		key := in.IDProperty + "\x00" + strings.ToLower(in.ID)
		if in.ID == "" || seen[key] {
			validationError(w, fmt.Sprintf("Every input needs a distinct id value; input %d has %q.", i, in.ID), nil)
			return
		}
		seen[key] = true
		if all[i], err = def.checkWrite(in.Properties); err != nil {
			err.write(w)
			return
		}
	}
	var results []apiObject
	_ = f.kit.Records(c.Account, def.name).Tx(func(tx *fakekit.Tx) error {
		idx := newUniqueIndex(tx, def)
		for i, in := range req.Inputs {
			fields := all[i]
			var rec fakekit.Record
			id, exists := idx.holder(in.IDProperty, in.ID)
			if exists {
				rec, _ = tx.Update(id, fields)
			} else {
				if fields[in.IDProperty] == "" {
					fields[in.IDProperty] = in.ID
				}
				rec = tx.Create(fields)
			}
			o := def.render(rec, slices.Collect(maps.Keys(fields)))
			o.New = new(!exists)
			o.ObjectWriteTraceID = in.ObjectWriteTraceID
			results = append(results, o)
		}
		return nil
	})
	f.batchAnswer(w, http.StatusOK, results, nil)
}

func (f *Fake) batchRead(w http.ResponseWriter, r *http.Request, c fakekit.Call, def *objectDef) {
	req, err := decodeBatch(r)
	if err != nil {
		err.write(w)
		return
	}
	if req.IDProperty != "" {
		if p, ok := def.prop(req.IDProperty); !ok || !p.Unique {
			validationError(w, req.IDProperty+" is not a property with unique values of "+def.name+".", nil)
			return
		}
	}
	var results []apiObject
	var missing []string
	_ = f.kit.Records(c.Account, def.name).Tx(func(tx *fakekit.Tx) error {
		idx := newUniqueIndex(tx, def)
		for _, in := range req.Inputs {
			id := in.ID
			if req.IDProperty != "" {
				id, _ = idx.holder(req.IDProperty, in.ID)
			}
			rec, ok := tx.Get(id)
			if !ok {
				missing = append(missing, in.ID)
				continue
			}
			results = append(results, def.render(rec, req.Properties))
		}
		return nil
	})
	var errs []map[string]any
	if len(missing) > 0 {
		nf := notFound(def, missing)
		errs = []map[string]any{{"status": "error", "category": nf.category, "message": nf.message, "context": map[string][]string{"ids": missing}}}
	}
	f.batchAnswer(w, http.StatusOK, results, errs)
}

// batchAnswer writes a batch response; errors turn it into a 207
// multi-status. HubSpot documents batch results as unordered, so the fake
// answers in reverse input order: clients must match results by id or
// objectWriteTraceId, as they must with the real thing.
func (f *Fake) batchAnswer(w http.ResponseWriter, status int, results []apiObject, errs []map[string]any) {
	slices.Reverse(results)
	now := formatTime(f.kit.Now())
	body := map[string]any{"status": "COMPLETE", "results": results, "startedAt": now, "completedAt": now}
	if results == nil {
		body["results"] = []apiObject{}
	}
	if len(errs) > 0 {
		body["errors"], body["numErrors"] = errs, len(errs)
		status = http.StatusMultiStatus
	}
	fakekit.WriteJSON(w, status, body)
}

func (f *Fake) properties(w http.ResponseWriter, _ *http.Request, _ fakekit.Call, def *objectDef) {
	results := make([]map[string]any, 0, len(def.props))
	for _, p := range def.props {
		results = append(results, map[string]any{
			"name": p.Name, "label": p.Label, "type": p.Type, "fieldType": p.FieldType, "groupName": p.Group,
			"description": "", "hasUniqueValue": p.Unique, "hidden": false, "formField": !p.ReadOnly,
			"calculated": false, "options": propertyOptions(p.Options), "hubspotDefined": p.Group != "custom",
			"modificationMetadata": map[string]bool{"archivable": !p.ReadOnly, "readOnlyDefinition": true, "readOnlyValue": p.ReadOnly},
		})
	}
	fakekit.WriteJSON(w, http.StatusOK, map[string]any{"results": results})
}

// parseLimit reads a limit parameter: def when absent, refused outside 1..max.
func parseLimit(s string, def, maxLimit int) (int, bool) {
	if s == "" {
		return def, true
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxLimit {
		return 0, false
	}
	return n, true
}

// splitProps reads properties=a,b (possibly repeated).
func splitProps(values []string) []string {
	var out []string
	for _, v := range values {
		for p := range strings.SplitSeq(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// propertyOptions renders enumeration values as HubSpot lists them.
func propertyOptions(values []string) []map[string]any {
	out := []map[string]any{}
	for i, v := range values {
		out = append(out, map[string]any{"label": v, "value": v, "displayOrder": i, "hidden": false})
	}
	return out
}
