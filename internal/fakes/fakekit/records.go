package fakekit

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Record is one object a fake holds (a contact, a company...). Field values
// are strings because that is how CRM APIs such as HubSpot's carry every
// property value.
type Record struct {
	ID        string            `json:"id"`
	Fields    map[string]string `json:"fields"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
}

func (r Record) clone() Record {
	r.Fields = maps.Clone(r.Fields)
	if r.Fields == nil {
		r.Fields = map[string]string{}
	}
	return r
}

// Store holds the records of one object of one account. Ids are decimal
// strings handed out in increasing order, so they are stable and sort the
// way a provider's numeric ids do.
type Store struct {
	now    func() time.Time
	seedID func(fields map[string]string) string // nil: numeric ids

	mu     sync.Mutex
	byID   map[string]*Record
	last   int64 // highest numeric id handed out or seeded
	notify func([]Change)
	order  []string // ids in order; nil after an id was removed or added out of order
	// unique maps a field, once looked up (Tx.Lookup), to its values
	// (lower-cased) and the ids holding them, kept up to date by every write
	// so that a unique-value check does not scan every record.
	unique map[string]map[string]string
}

// Change is one record written by a store transaction.
type Change struct {
	Record  Record
	Created bool
	Deleted bool
	Fields  []string // fields whose value changed (all of them on creation)
}

func newStore(now func() time.Time) *Store {
	// Start above zero so ids look like a provider's and not like indexes.
	return &Store{now: now, byID: map[string]*Record{}, last: 100}
}

// Tx runs fn with the store locked, so that a provider fake can check and
// write several records as one step (batch writes, upserts). fn must not call
// other Store methods.
func (s *Store) Tx(fn func(tx *Tx) error) error {
	s.mu.Lock()
	tx := &Tx{s: s}
	err := fn(tx)
	s.mu.Unlock()
	if s.notify != nil && len(tx.changes) > 0 {
		s.notify(tx.changes)
	}
	return err
}

// Delete removes the record with id; it reports whether there was one.
func (s *Store) Delete(id string) bool {
	var ok bool
	_ = s.Tx(func(tx *Tx) error { ok = tx.Delete(id); return nil })
	return ok
}

// Get returns a copy of the record with id.
func (s *Store) Get(id string) (Record, bool) {
	var r Record
	var ok bool
	_ = s.Tx(func(tx *Tx) error { r, ok = tx.Get(id); return nil })
	return r, ok
}

// All returns copies of every record, ordered by id.
func (s *Store) All() []Record {
	var all []Record
	_ = s.Tx(func(tx *Tx) error { all = tx.All(); return nil })
	return all
}

// Len is the number of records.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byID)
}

// Page returns up to limit records whose id sorts after the cursor after (""
// for the first page) and the cursor of the next page, "" on the last one.
func (s *Store) Page(after string, limit int) ([]Record, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.order == nil {
		s.order = make([]string, 0, len(s.byID))
		for id := range s.byID {
			s.order = append(s.order, id)
		}
		slices.SortFunc(s.order, compareID)
	}
	start := 0
	if after != "" {
		var found bool
		start, found = slices.BinarySearchFunc(s.order, after, compareID)
		if found {
			start++
		}
	}
	end := min(start+max(limit, 0), len(s.order))
	page := make([]Record, 0, max(end-start, 0))
	for _, id := range s.order[start:end] {
		page = append(page, s.byID[id].clone())
	}
	if end < len(s.order) && len(page) > 0 {
		return page, page[len(page)-1].ID
	}
	return page, ""
}

func compareID(a, b string) int {
	switch {
	case a == b:
		return 0
	case lessID(a, b):
		return -1
	}
	return 1
}

// Seed stores records given as JSON objects, in the forms the control surface
// accepts: {"id"?, "fields":{…}}, {"id"?, "properties":{…}} or a flat object of
// fields. A record with an id replaces the one holding it.
func (s *Store) Seed(records []map[string]any) []Record {
	out := make([]Record, 0, len(records))
	_ = s.Tx(func(tx *Tx) error {
		for _, raw := range records {
			id, fields := seedFields(raw)
			if id == "" && s.seedID != nil {
				id = s.seedID(fields)
			}
			if id == "" {
				out = append(out, tx.Create(fields))
			} else {
				out = append(out, tx.Put(id, fields))
			}
		}
		return nil
	})
	return out
}

func seedFields(raw map[string]any) (string, map[string]string) {
	id := Stringify(raw["id"])
	src, flat := raw, true
	for _, key := range []string{"fields", "properties"} {
		if m, ok := raw[key].(map[string]any); ok {
			src, flat = m, false
			break
		}
	}
	fields := make(map[string]string, len(src))
	for k, v := range src {
		if (flat && k == "id") || v == nil {
			continue
		}
		fields[k] = Stringify(v)
	}
	return id, fields
}

// Stringify renders a decoded JSON value as a provider property string.
func Stringify(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	case json.Number:
		return v.String()
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}

// Tx is a locked view of a Store; see Store.Tx.
type Tx struct {
	s       *Store
	changes []Change
}

// Delete removes the record with id.
func (tx *Tx) Delete(id string) bool {
	r, ok := tx.s.byID[id]
	if ok {
		tx.s.unindex(id, r.Fields)
		delete(tx.s.byID, id)
		tx.s.order = nil
		tx.changes = append(tx.changes, Change{Record: r.clone(), Deleted: true})
	}
	return ok
}

func changedFields(old, now map[string]string) []string {
	var out []string
	for k, v := range now {
		if old[k] != v {
			out = append(out, k)
		}
	}
	for k := range old {
		if _, ok := now[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// Get returns a copy of the record with id.
func (tx *Tx) Get(id string) (Record, bool) {
	r, ok := tx.s.byID[id]
	if !ok {
		return Record{}, false
	}
	return r.clone(), true
}

// All returns copies of every record, ordered by id.
func (tx *Tx) All() []Record {
	all := make([]Record, 0, len(tx.s.byID))
	for _, r := range tx.s.byID {
		all = append(all, r.clone())
	}
	slices.SortFunc(all, func(a, b Record) int {
		if a.ID == b.ID {
			return 0
		}
		if lessID(a.ID, b.ID) {
			return -1
		}
		return 1
	})
	return all
}

// Range calls fn with every record's id and fields, in no order and without
// copying; fn must not keep or change fields.
func (tx *Tx) Range(fn func(id string, fields map[string]string)) {
	for id, r := range tx.s.byID {
		fn(id, r.Fields)
	}
}

// Find returns the first record, in id order, that match accepts.
func (tx *Tx) Find(match func(Record) bool) (Record, bool) {
	for _, r := range tx.All() {
		if match(r) {
			return r, true
		}
	}
	return Record{}, false
}

// Create stores a new record with the next id.
func (tx *Tx) Create(fields map[string]string) Record {
	tx.s.last++
	for tx.s.byID[strconv.FormatInt(tx.s.last, 10)] != nil {
		tx.s.last++
	}
	return tx.Put(strconv.FormatInt(tx.s.last, 10), fields)
}

// Put stores fields under id, replacing any record there but keeping its
// creation time.
func (tx *Tx) Put(id string, fields map[string]string) Record {
	now := tx.s.now()
	r := &Record{ID: id, Fields: dropEmpty(maps.Clone(fields)), CreatedAt: now, UpdatedAt: now}
	old, existed := tx.s.byID[id]
	if existed {
		r.CreatedAt = old.CreatedAt
	}
	if n, err := strconv.ParseInt(id, 10, 64); err == nil && n > tx.s.last {
		tx.s.last = n
	}
	if existed {
		tx.s.unindex(id, old.Fields)
	} else if n := len(tx.s.order); n > 0 && lessID(tx.s.order[n-1], id) && len(tx.s.byID) == n {
		tx.s.order = append(tx.s.order, id) // a new highest id keeps the order
	} else {
		tx.s.order = nil
	}
	tx.s.byID[id] = r
	tx.s.index(id, r.Fields)
	ch := Change{Record: r.clone(), Created: !existed}
	if existed {
		ch.Fields = changedFields(old.Fields, r.Fields)
	} else {
		ch.Fields = changedFields(nil, r.Fields)
	}
	if ch.Created || len(ch.Fields) > 0 {
		tx.changes = append(tx.changes, ch)
	}
	return r.clone()
}

// Update merges fields into the record with id; an empty value clears a field,
// as it does at HubSpot.
func (tx *Tx) Update(id string, fields map[string]string) (Record, bool) {
	r, ok := tx.s.byID[id]
	if !ok {
		return Record{}, false
	}
	if r.Fields == nil {
		r.Fields = map[string]string{}
	}
	before := maps.Clone(r.Fields)
	tx.s.unindex(id, before)
	maps.Copy(r.Fields, fields)
	r.Fields = dropEmpty(r.Fields)
	tx.s.index(id, r.Fields)
	r.UpdatedAt = tx.s.now()
	if changed := changedFields(before, r.Fields); len(changed) > 0 {
		tx.changes = append(tx.changes, Change{Record: r.clone(), Fields: changed})
	}
	return r.clone(), true
}

// Lookup returns the id of a record whose field holds value, compared
// without case (as HubSpot compares e-mail addresses). The first lookup of a
// field indexes it; writes keep the index current.
func (tx *Tx) Lookup(field, value string) (string, bool) {
	s := tx.s
	byValue, ok := s.unique[field]
	if !ok {
		if s.unique == nil {
			s.unique = map[string]map[string]string{}
		}
		byValue = map[string]string{}
		for id, r := range s.byID {
			if v := r.Fields[field]; v != "" {
				byValue[strings.ToLower(v)] = id
			}
		}
		s.unique[field] = byValue
	}
	id, ok := byValue[strings.ToLower(value)]
	return id, ok
}

func (s *Store) index(id string, fields map[string]string) {
	for field, byValue := range s.unique {
		if v := fields[field]; v != "" {
			byValue[strings.ToLower(v)] = id
		}
	}
}

func (s *Store) unindex(id string, fields map[string]string) {
	for field, byValue := range s.unique {
		if v := strings.ToLower(fields[field]); v != "" && byValue[v] == id {
			delete(byValue, v)
		}
	}
}

func dropEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	maps.DeleteFunc(m, func(_, v string) bool { return v == "" })
	return m
}

// lessID orders ids numerically when they are decimal numbers (shorter first,
// then lexically) and stays a total order for any other strings.
func lessID(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return strings.Compare(a, b) < 0
}
