package salesforce

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"patchbay/internal/fakes/fakekit"
)

// The single-record sObject resources: POST /sobjects/{object} creates, and
// GET, PATCH and DELETE /sobjects/{object}/{id} read, update and delete one
// record. Failures answer Salesforce's error array.

// sobject finds the object of the path or answers 404.
func sobject(w http.ResponseWriter, r *http.Request) (*objectDef, bool) {
	def, ok := lookupObject(r.PathValue("object"))
	if !ok {
		writeErrors(w, http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
	}
	return def, ok
}

// sobjectRecord finds the record of the path. An id that is not one of the
// object's is taken, as Salesforce does, for an external id lookup without
// a field.
func (f *Fake) sobjectRecord(w http.ResponseWriter, r *http.Request, c fakekit.Call) (*objectDef, fakekit.Record, bool) {
	def, ok := sobject(w, r)
	if !ok {
		return nil, fakekit.Record{}, false
	}
	id := r.PathValue("id")
	sid, ok := storeID(def.prefix, id)
	if !ok {
		writeErrors(w, http.StatusNotFound, "NOT_FOUND", "Provided external ID field does not exist or is not accessible: "+id)
		return nil, fakekit.Record{}, false
	}
	rec, ok := f.kit.Records(c.Account, def.name).Get(sid)
	if !ok {
		writeErrors(w, http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
	}
	return def, rec, ok
}

// readRecord decodes a single-record body and checks it as a collection
// record of def, answering the error itself.
func readRecord(w http.ResponseWriter, r *http.Request, def *objectDef, create bool) (pending, bool) {
	var body map[string]any
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 8<<20)).Decode(&body); err != nil {
		writeErrors(w, http.StatusBadRequest, "JSON_PARSER_ERROR", "The request body is not valid JSON: "+err.Error())
		return pending{}, false
	}
	body["attributes"] = map[string]any{"type": def.name}
	p, bad := check(body, def.name, create)
	if bad != nil {
		e := bad.Errors[0]
		writeErrors(w, http.StatusBadRequest, e.StatusCode, e.Message, e.Fields...)
		return pending{}, false
	}
	if p.id != "" {
		if create {
			writeErrors(w, http.StatusBadRequest, "INVALID_FIELD", "cannot specify Id in an insert call", "Id")
		} else {
			writeErrors(w, http.StatusBadRequest, "INVALID_FIELD_FOR_INSERT_UPDATE", "Unable to create/update fields: Id. Please check the security settings of this field and verify that it is read/write for your profile or permission set.", "Id")
		}
		return pending{}, false
	}
	return p, true
}

// createRecord is POST /sobjects/{object}: 201 with the new id.
func (f *Fake) createRecord(w http.ResponseWriter, r *http.Request, c fakekit.Call) {
	def, ok := sobject(w, r)
	if !ok {
		return
	}
	p, ok := readRecord(w, r, def, true)
	if !ok {
		return
	}
	if def.name == "Lead" && p.fields["Status"] == "" {
		p.fields["Status"] = "Open - Not Contacted" // the org's default lead status
	}
	var rec fakekit.Record
	_ = f.kit.Records(c.Account, def.name).Tx(func(tx *fakekit.Tx) error { rec = tx.Create(p.fields); return nil })
	fakekit.WriteJSON(w, http.StatusCreated, saveResult{ID: sfid(def.prefix, rec.ID), Success: true, Errors: []fieldError{}})
}

// getRecord is GET /sobjects/{object}/{id}[?fields=A,B]: every field, or
// those named, with the record's attributes.
func (f *Fake) getRecord(w http.ResponseWriter, r *http.Request, c fakekit.Call) {
	def, rec, ok := f.sobjectRecord(w, r, c)
	if !ok {
		return
	}
	fields := def.fields
	if list := r.URL.Query().Get("fields"); list != "" {
		fields = nil
		for _, n := range strings.Split(list, ",") {
			fd, ok := def.field(strings.TrimSpace(n))
			if !ok {
				writeErrors(w, http.StatusBadRequest, "INVALID_FIELD", fmt.Sprintf("No such column '%s' on entity '%s'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name.", strings.TrimSpace(n), def.name))
				return
			}
			fields = append(fields, fd)
		}
		if id, _ := def.field("Id"); !slices.Contains(fields, id) {
			fields = append(fields, id) // Salesforce always answers the Id
		}
	}
	out := def.render(rec, fields)
	out["attributes"] = map[string]string{"type": def.name, "url": "/services/data/" + r.PathValue("version") + "/sobjects/" + def.name + "/" + sfid(def.prefix, rec.ID)}
	fakekit.WriteJSON(w, http.StatusOK, out)
}

// updateRecord is PATCH /sobjects/{object}/{id}: 204 without a body.
func (f *Fake) updateRecord(w http.ResponseWriter, r *http.Request, c fakekit.Call) {
	def, rec, ok := f.sobjectRecord(w, r, c)
	if !ok {
		return
	}
	p, ok := readRecord(w, r, def, false)
	if !ok {
		return
	}
	_ = f.kit.Records(c.Account, def.name).Tx(func(tx *fakekit.Tx) error { tx.Update(rec.ID, p.fields); return nil })
	w.WriteHeader(http.StatusNoContent)
}

// deleteRecord is DELETE /sobjects/{object}/{id}: 204 without a body.
func (f *Fake) deleteRecord(w http.ResponseWriter, r *http.Request, c fakekit.Call) {
	def, rec, ok := f.sobjectRecord(w, r, c)
	if !ok {
		return
	}
	if !f.kit.Records(c.Account, def.name).Delete(rec.ID) {
		writeErrors(w, http.StatusNotFound, "ENTITY_IS_DELETED", "entity is deleted")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
