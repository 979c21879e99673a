package syncer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"patchbay/internal/catalog"
	"patchbay/internal/connector"
	"patchbay/internal/filter"
	"patchbay/internal/store"
)

// ConnectionSchema is a connection's objects and fields: discovered from the
// provider (FetchedAt set), or the catalog's lists before the first fetch
// and for providers without a metadata API (FetchedAt zero).
type ConnectionSchema struct {
	FetchedAt time.Time
	connector.Schema
}

// ErrNoSchema says a provider has no metadata API to refresh from.
var ErrNoSchema = errors.New("this provider does not describe its fields; the catalog's fields are used")

// Schema returns a connection's cached schema, fetching it first when there
// is none yet; when the provider cannot be asked (no metadata API, or the
// fetch fails) it answers the catalog's fields.
func (e *Engine) Schema(ctx context.Context, c *store.Connection) (*ConnectionSchema, error) {
	return e.schema(ctx, c, true)
}

// WarmSchema fetches a connection's schema when none is cached yet, so that
// Prepare (which may run inside a transaction, and so never calls the
// provider) finds it. Failures leave the catalog's fields in place.
func (e *Engine) WarmSchema(ctx context.Context, ws *store.Workspace, connID string) {
	c, err := e.cfg.Store.GetConnection(ctx, ws.ID, connID)
	if err != nil {
		return
	}
	_, _ = e.schema(ctx, c, true)
}

// schema is the cached schema; without one, fetched when fetch is set, else the catalog's.
func (e *Engine) schema(ctx context.Context, c *store.Connection, fetch bool) (*ConnectionSchema, error) {
	cached, err := e.cfg.Store.Schema(ctx, c.ID)
	switch {
	case err == nil:
		out := &ConnectionSchema{FetchedAt: cached.FetchedAt}
		if err := json.Unmarshal([]byte(cached.Body), &out.Schema); err != nil {
			return nil, fmt.Errorf("read cached schema of %s: %w", c.ID, err)
		}
		return out, nil
	case !errors.Is(err, store.ErrNotFound):
		return nil, err
	case !fetch:
		return e.catalogSchema(c), nil
	}
	sc, err := e.RefreshSchema(ctx, c)
	if err != nil {
		if !errors.Is(err, ErrNoSchema) {
			e.cfg.Logger.Info("schema fetch failed; using the catalog's fields", "connection", c.ID, "err", err)
		}
		return e.catalogSchema(c), nil
	}
	return sc, nil
}

// RefreshSchema fetches a connection's schema from the provider now and caches it.
func (e *Engine) RefreshSchema(ctx context.Context, c *store.Connection) (*ConnectionSchema, error) {
	sess, conn, err := e.cfg.Conns.Session(ctx, c)
	if err != nil {
		return nil, err
	}
	sr, ok := conn.(connector.SchemaReader)
	if !ok {
		return nil, ErrNoSchema
	}
	sc, err := sr.Schema(ctx, sess)
	if err != nil {
		return nil, fmt.Errorf("fetch schema: %w", err)
	}
	return e.saveSchema(ctx, c.ID, sc)
}

func (e *Engine) saveSchema(ctx context.Context, connID string, sc connector.Schema) (*ConnectionSchema, error) {
	if sc.Objects == nil {
		sc.Objects = []connector.SchemaObject{}
	}
	body, err := json.Marshal(sc)
	if err != nil {
		return nil, fmt.Errorf("encode schema: %w", err)
	}
	out := &ConnectionSchema{FetchedAt: e.cfg.Now().UTC().Truncate(time.Second), Schema: sc}
	if err := e.cfg.Store.SaveSchema(ctx, store.ConnectionSchema{ConnectionID: connID, Body: string(body), FetchedAt: out.FetchedAt}); err != nil {
		return nil, err
	}
	return out, nil
}

// catalogSchema is the fallback: the catalog's objects with untyped fields.
func (e *Engine) catalogSchema(c *store.Connection) *ConnectionSchema {
	out := &ConnectionSchema{Schema: connector.Schema{Objects: []connector.SchemaObject{}}}
	p, ok := e.Catalog().Get(c.Provider)
	if !ok {
		return out
	}
	for _, o := range p.Objects {
		obj := connector.SchemaObject{Name: o.Name, Label: o.Name, Fields: []connector.SchemaField{}}
		for _, f := range o.Fields {
			obj.Fields = append(obj.Fields, connector.SchemaField{Name: f, Label: f, Type: connector.TypeText, Writable: true,
				Unique: slices.Contains(o.MatchFields, f)})
		}
		out.Objects = append(out.Objects, obj)
	}
	return out
}

// ClassSchemaChanged is the error class of a run that names a field or
// object the provider no longer has.
const ClassSchemaChanged connector.Class = "schema_changed"

// usedFields are the provider fields a sync reads or writes.
func usedFields(y *store.Sync) []string {
	var out []string
	add := func(f string) {
		if f != "" && f != MatchExternalID && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	if y.Direction == Inbound {
		for _, m := range y.Mapping {
			add(m.Source)
		}
		if expr, err := filter.Parse(y.Filter); err == nil {
			for _, f := range filter.Fields(expr) {
				add(f)
			}
		}
	} else {
		for _, m := range y.Mapping {
			add(m.Target)
		}
		add(y.MatchKey)
	}
	return out
}

// checkSchema re-reads the schema of the sync's connection before the run
// touches anything (one metadata call, see each connector's Schema) and
// fails the run as schema_changed when the object or a field it uses is gone
// at the provider. It keeps the object for type conversion. Providers
// without a metadata API, grants without its scope and dry runs are not checked.
func (r *run) checkSchema(ctx context.Context, conn connector.Connector, sess connector.Session) error {
	sr, ok := conn.(connector.SchemaReader)
	if !ok {
		return nil
	}
	if r.o.DryRun { // a dry run calls nothing at the provider: the cached schema converts
		if c, err := r.e.cfg.Store.ConnectionByID(ctx, r.y.ConnectionID); err == nil {
			if sc, err := r.e.schema(ctx, c, false); err == nil {
				r.obj, _ = sc.Object(r.y.Object)
			}
		}
		return nil
	}
	var sc connector.Schema
	var err error
	if d, ok := conn.(connector.ObjectDescriber); ok {
		var obj connector.SchemaObject
		obj, err = d.DescribeObject(ctx, sess, r.y.Object)
		if err == nil {
			r.obj = &obj
		}
	} else {
		sc, err = sr.Schema(ctx, sess)
		if err == nil {
			if _, serr := r.e.saveSchema(ctx, r.y.ConnectionID, sc); serr != nil {
				return serr
			}
			r.obj, _ = sc.Object(r.y.Object)
		}
	}
	var ce *connector.Error
	switch {
	case errors.As(err, &ce) && ce.Class == connector.ClassForbidden:
		r.obj = nil // the grant does not cover the metadata API: nothing to check against
		return nil
	case errors.As(err, &ce) && ce.Class == connector.ClassNotFound:
		return &connector.Error{Class: ClassSchemaChanged, Message: fmt.Sprintf("the object %s no longer exists at the provider; choose another object or restore it", r.y.Object)}
	case err != nil:
		return err
	case r.obj == nil:
		return &connector.Error{Class: ClassSchemaChanged, Message: fmt.Sprintf("the object %s no longer exists at the provider; choose another object or restore it", r.y.Object)}
	}
	var gone []string
	for _, f := range usedFields(r.y) {
		if _, ok := r.obj.Field(f); !ok {
			gone = append(gone, f)
		}
	}
	if len(gone) > 0 {
		return &connector.Error{Class: ClassSchemaChanged, Message: fmt.Sprintf("the field %s of %s no longer exists at the provider (deleted or renamed); map another field or restore it",
			strings.Join(gone, ", "), r.objectLabel())}
	}
	return nil
}

func (r *run) objectLabel() string {
	if r.obj != nil && r.obj.Label != "" && r.obj.Label != r.y.Object {
		return fmt.Sprintf("%s (%s)", r.obj.Label, r.y.Object)
	}
	return r.y.Object
}

// unknownField words the 422 for a field the object does not have, with
// the closest names it does have.
func unknownField(object, name string, obj *connector.SchemaObject) string {
	names := obj.FieldNames()
	if near := connector.Closest(name, names, 5); len(near) > 0 {
		return fmt.Sprintf("%s has no field %q; did you mean %s?", object, name, strings.Join(quoteAll(near), ", "))
	}
	if len(names) > 12 {
		return fmt.Sprintf("%s has no field %q; see GET /connections/{id}/schema for its %d fields", object, name, len(names))
	}
	return fmt.Sprintf("%s has no field %q; fields: %s", object, name, strings.Join(names, ", "))
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = fmt.Sprintf("%q", v)
	}
	return out
}

// schemaObject finds the sync's object in the connection's schema: by name,
// or for an object written as "<prefix>/<label>" (an Airtable table by its
// name) by its label under the same prefix.
func schemaObject(sc *ConnectionSchema, name string) (*connector.SchemaObject, bool) {
	if o, ok := sc.Object(name); ok {
		return o, true
	}
	prefix, label, ok := strings.Cut(name, "/")
	for i := range sc.Objects {
		o := &sc.Objects[i]
		if p, _, _ := strings.Cut(o.Name, "/"); ok && p == prefix && strings.EqualFold(o.Label, label) {
			return o, true
		}
	}
	return nil, false
}

// objectNames lists a schema's objects for an error message.
func objectNames(sc *ConnectionSchema) []string {
	out := make([]string, len(sc.Objects))
	for i, o := range sc.Objects {
		out[i] = o.Name
		if o.Label != "" && o.Label != o.Name {
			out[i] = fmt.Sprintf("%s (%s)", o.Name, o.Label)
		}
	}
	return out
}

// catalogObject is the catalog entry of an object, for its scopes and flags.
func catalogObject(p *catalog.Provider, name string) *catalog.Object {
	for i := range p.Objects {
		if p.Objects[i].Name == name {
			return &p.Objects[i]
		}
	}
	return nil
}
