package api_test

import (
	"net/http"
	"strings"
	"testing"

	"patchbay/internal/app"
	"patchbay/internal/app/apptest"
)

// TestLifecycleDeletes removes what a user made through the API: a row, a
// sync (its runs with it), a table with its syncs, hooks and action columns,
// and a connection, which is refused while connected and while a sync or an
// action column still uses it, naming them.
func TestLifecycleDeletes(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, apptest.Options{})
	hub := env.ConnectOAuth("hubspot", "", nil)
	var dp struct {
		Connection struct{ ID string } `json:"connection"`
	}
	env.MustDo(http.StatusCreated, "POST", "/connections", map[string]any{"provider": "dataprovider",
		"config": map[string]string{"endpoint_url": env.URL + "/_fakes/dataprovider"}, "api_key": app.DemoDataProviderKey}, &dp)
	var tb struct{ ID string }
	env.MustDo(http.StatusCreated, "POST", "/tables", map[string]any{"name": "Leads", "columns": []map[string]string{
		{"name": "email", "type": "text"}, {"name": "phone", "type": "text"}}}, &tb)
	var rows struct{ Rows []struct{ ID string } }
	env.MustDo(http.StatusCreated, "POST", "/tables/"+tb.ID+"/rows", map[string]any{"rows": []any{
		map[string]any{"values": map[string]any{"email": "a@acme.test"}}, map[string]any{"values": map[string]any{"email": "b@acme.test"}}}}, &rows)
	var y struct{ ID string }
	env.MustDo(http.StatusCreated, "POST", "/syncs", map[string]any{"direction": "inbound", "connection_id": hub, "table_id": tb.ID,
		"object": "contacts", "mapping": []map[string]string{{"source": "email", "target": "email"}}}, &y)
	var run struct{ ID string }
	env.MustDo(http.StatusOK, "POST", "/syncs/"+y.ID+"/run", map[string]any{}, &run)
	env.MustDo(http.StatusCreated, "POST", "/tables/"+tb.ID+"/columns", map[string]any{"name": "Person", "type": "action", "action": map[string]any{
		"connection_ids": []string{dp.Connection.ID}, "lookup": "person_by_email", "inputs": map[string]string{"email": "email"},
		"outputs": map[string]string{"phone": "phone"}}}, nil)
	env.MustDo(http.StatusCreated, "POST", "/tables/"+tb.ID+"/hooks", map[string]any{"match_column": "email"}, nil)

	// A row.
	env.MustDo(http.StatusNoContent, "DELETE", "/tables/"+tb.ID+"/rows/"+rows.Rows[0].ID, nil, nil)
	var left struct{ Rows []struct{ ID string } }
	env.MustDo(http.StatusOK, "GET", "/tables/"+tb.ID+"/rows", nil, &left)
	for _, r := range left.Rows {
		if r.ID == rows.Rows[0].ID {
			t.Error("the deleted row is still listed")
		}
	}
	if st, _ := env.Do("DELETE", "/tables/"+tb.ID+"/rows/"+rows.Rows[0].ID, nil, nil); st != http.StatusNotFound {
		t.Errorf("deleting it again: %d, want 404", st)
	}

	// A connection in use, or still connected, stays.
	st, body := env.Do("DELETE", "/connections/"+hub, nil, nil)
	if st != http.StatusConflict || !strings.Contains(body, "disconnect it first") {
		t.Errorf("deleting a connected connection: %d %s", st, body)
	}
	env.MustDo(http.StatusOK, "POST", "/connections/"+hub+"/disconnect", nil, nil)
	env.MustDo(http.StatusOK, "POST", "/connections/"+dp.Connection.ID+"/disconnect", nil, nil)
	st, body = env.Do("DELETE", "/connections/"+hub, nil, nil)
	if st != http.StatusConflict || !strings.Contains(body, `the inbound contacts sync of table \"Leads\"`) {
		t.Errorf("deleting a connection a sync uses: %d %s", st, body)
	}
	st, body = env.Do("DELETE", "/connections/"+dp.Connection.ID, nil, nil)
	if st != http.StatusConflict || !strings.Contains(body, `the action column \"Person\" of table \"Leads\"`) {
		t.Errorf("deleting a connection an action column uses: %d %s", st, body)
	}

	// A sync, with its history.
	env.MustDo(http.StatusNoContent, "DELETE", "/syncs/"+y.ID, nil, nil)
	if st, _ := env.Do("GET", "/syncs/"+y.ID, nil, nil); st != http.StatusNotFound {
		t.Errorf("deleted sync: %d", st)
	}
	if st, _ := env.Do("GET", "/runs/"+run.ID, nil, nil); st != http.StatusNotFound {
		t.Errorf("run of the deleted sync: %d", st)
	}
	env.MustDo(http.StatusNoContent, "DELETE", "/connections/"+hub, nil, nil)
	if st, _ := env.Do("GET", "/connections/"+hub, nil, nil); st != http.StatusNotFound {
		t.Errorf("deleted connection: %d", st)
	}

	// A table, with its syncs, hooks and action columns.
	hub2 := env.ConnectOAuth("hubspot", "acct-two", nil)
	var y2 struct{ ID string }
	env.MustDo(http.StatusCreated, "POST", "/syncs", map[string]any{"direction": "inbound", "connection_id": hub2, "table_id": tb.ID,
		"object": "contacts", "mapping": []map[string]string{{"source": "email", "target": "email"}}}, &y2)
	env.MustDo(http.StatusNoContent, "DELETE", "/tables/"+tb.ID, nil, nil)
	for _, p := range []string{"/tables/" + tb.ID, "/syncs/" + y2.ID, "/tables/" + tb.ID + "/hooks", "/tables/" + tb.ID + "/columns"} {
		if st, _ := env.Do("GET", p, nil, nil); st != http.StatusNotFound {
			t.Errorf("GET %s after deleting the table: %d", p, st)
		}
	}
	env.MustDo(http.StatusNoContent, "DELETE", "/connections/"+dp.Connection.ID, nil, nil)
}
