package hubspot

import (
	"maps"
	"net/http"
	"slices"

	"patchbay/internal/fakes/fakekit"
)

// The single-record writes of the CRM v3 objects API the official clients
// call (basicApi.update, basicApi.archive, batchApi.archive):
// PATCH and DELETE /crm/v3/objects/{object}/{id}, POST .../batch/archive.

// findByID reads the record a path names: by id, or by a unique property
// when the idProperty query parameter says which.
func findByID(tx *fakekit.Tx, id, idProp string) (fakekit.Record, bool) {
	if idProp == "" || idProp == "hs_object_id" {
		return tx.Get(id)
	}
	owner, ok := tx.Lookup(idProp, id)
	if !ok {
		return fakekit.Record{}, false
	}
	return tx.Get(owner)
}

// updateOne is PATCH /crm/v3/objects/{object}/{id}: the given properties are
// overwritten (an empty string clears one); the answer is the object.
func (f *Fake) updateOne(w http.ResponseWriter, r *http.Request, c fakekit.Call, def *objectDef) {
	id, idProp := r.PathValue("id"), r.URL.Query().Get("idProperty")
	if idProp != "" && idProp != "hs_object_id" {
		if p, ok := def.prop(idProp); !ok || !p.Unique {
			validationError(w, idProp+" is not a property with unique values of "+def.name+".", nil)
			return
		}
	}
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
	var rec fakekit.Record
	_ = f.kit.Records(c.Account, def.name).Tx(func(tx *fakekit.Tx) error {
		cur, found := findByID(tx, id, idProp)
		if !found {
			err = notFound(def, []string{id})
			return nil
		}
		idx := newUniqueIndex(tx, def)
		for _, name := range idx.names {
			if owner, taken := idx.holder(name, fields[name]); taken && owner != cur.ID {
				err = conflict(def, owner)
				return nil
			}
		}
		rec, _ = tx.Update(cur.ID, fields)
		return nil
	})
	if err != nil {
		err.write(w)
		return
	}
	fakekit.WriteJSON(w, http.StatusOK, def.render(rec, slices.Collect(maps.Keys(fields))))
}

// archiveOne is DELETE /crm/v3/objects/{object}/{id}: 204 without a body,
// also for an id that is already gone (archiving is idempotent).
func (f *Fake) archiveOne(w http.ResponseWriter, r *http.Request, c fakekit.Call, def *objectDef) {
	_ = f.kit.Records(c.Account, def.name).Tx(func(tx *fakekit.Tx) error {
		if rec, found := findByID(tx, r.PathValue("id"), r.URL.Query().Get("idProperty")); found {
			tx.Delete(rec.ID)
		}
		return nil
	})
	w.WriteHeader(http.StatusNoContent)
}

// batchArchive is POST /crm/v3/objects/{object}/batch/archive with
// {"inputs":[{"id":…}]}: 204 without a body.
func (f *Fake) batchArchive(w http.ResponseWriter, r *http.Request, c fakekit.Call, def *objectDef) {
	req, err := decodeBatch(r)
	if err != nil {
		err.write(w)
		return
	}
	_ = f.kit.Records(c.Account, def.name).Tx(func(tx *fakekit.Tx) error {
		for _, in := range req.Inputs {
			tx.Delete(in.ID)
		}
		return nil
	})
	w.WriteHeader(http.StatusNoContent)
}
