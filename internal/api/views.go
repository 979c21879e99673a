package api

import (
	"context"
	"errors"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"

	"patchbay/internal/catalog"
	"patchbay/internal/connection"
	"patchbay/internal/store"
)

// NotUsedAfter is how long without activity makes an integration "not used recently".
const NotUsedAfter = connection.NotUsedAfter

type providerView struct {
	ID           string                `json:"id"`
	Name         string                `json:"name"`
	Description  string                `json:"description"`
	Auth         string                `json:"auth"`
	Tier         string                `json:"tier"`
	Scopes       []catalog.Scope       `json:"scopes"`
	Objects      []string              `json:"objects"`
	Lookups      []catalog.Lookup      `json:"lookups,omitempty"`
	ConfigFields []catalog.ConfigField `json:"config_fields"`
	RateLimit    catalog.RateLimit     `json:"rate_limit"`
	BatchSize    int                   `json:"batch_size"`
	Docs         string                `json:"docs,omitempty"`

	// ObjectDetails are the objects with their fields and match fields (the
	// dashboard's mapping pickers); objects stays the list of names.
	ObjectDetails []catalog.Object `json:"object_details"`
}

func viewProvider(p *catalog.Provider) providerView {
	v := providerView{ID: p.ID, Name: p.Name, Description: p.Description, Auth: p.Auth, Tier: p.Tier,
		Scopes: slices.Clip(append([]catalog.Scope{}, p.Scopes...)), Objects: []string{}, Lookups: p.Lookups,
		ConfigFields: append([]catalog.ConfigField{}, p.ConfigFields...), RateLimit: p.RateLimit, BatchSize: p.BatchSize, Docs: p.URLs.Docs}
	for _, o := range p.Objects {
		v.Objects = append(v.Objects, o.Name)
	}
	v.ObjectDetails = append([]catalog.Object{}, p.Objects...)
	return v
}

type accountView struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

type scopeView struct {
	catalog.Scope
	Granted bool `json:"granted"`
	Used    bool `json:"used"` // a configured sync needs it
}

type connectionView struct {
	ID              string                  `json:"id"`
	Provider        string                  `json:"provider"`
	ProviderName    string                  `json:"provider_name"`
	Status          string                  `json:"status"`
	Reason          string                  `json:"reason"`
	ReasonDetail    string                  `json:"reason_detail,omitempty"`
	Health          string                  `json:"health"`
	Explanation     *connection.Explanation `json:"explanation,omitempty"`
	Account         accountView             `json:"account"`
	Config          map[string]string       `json:"config"`
	ScopesRequested []string                `json:"scopes_requested"`
	ScopesGranted   []string                `json:"scopes_granted"`
	ScopesAdded     []string                `json:"scopes_added"`
	ScopesDropped   []string                `json:"scopes_dropped"`
	Endpoint        string                  `json:"endpoint"`
	Objects         []string                `json:"objects"`
	Notes           string                  `json:"notes"`
	ConnectedAt     *time.Time              `json:"connected_at"`
	LastActivityAt  *time.Time              `json:"last_activity_at"`
	LastCheckedAt   *time.Time              `json:"last_checked_at"`
	ExpiresAt       *time.Time              `json:"expires_at"`
	NotUsedRecently bool                    `json:"not_used_recently"`
	LastError       string                  `json:"last_error,omitempty"`
}

type connectionDetail struct {
	*connectionView
	ScopesRequired []string    `json:"scopes_required"`
	Scopes         []scopeView `json:"scopes"`
	LeastPrivilege []string    `json:"least_privilege"`
	Syncs          []syncView  `json:"syncs"`
	RecentRuns     []runView   `json:"recent_runs"`
	RecentErrors   []eventView `json:"recent_errors"`
	// APIUsage is the provider's request quota as last reported (Salesforce's
	// daily API requests); absent for providers without one.
	APIUsage *usageView `json:"api_usage,omitempty"`
	// Realtime is whether the provider's change notifications reach
	// Patchbay ("real time: on / degraded to polling") and why not.
	Realtime *connection.RealtimeState `json:"realtime,omitempty"`
}

type usageView struct {
	Used       int64     `json:"used"`
	Limit      int64     `json:"limit"`
	Period     string    `json:"period"`
	ObservedAt time.Time `json:"observed_at"`
}

func tp(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (h *Handler) viewConnection(c *store.Connection, p *catalog.Provider) *connectionView {
	v := &connectionView{ID: c.ID, Provider: c.Provider, Status: c.Status, Reason: c.Reason, ReasonDetail: c.ReasonDetail,
		Health: connection.Health(c.Status, c.Reason), Account: accountView{c.AccountID, c.AccountName, c.AccountEmail},
		Config: c.Config, ScopesRequested: nonNil(c.ScopesRequested), ScopesGranted: nonNil(c.ScopesGranted),
		ScopesAdded: nonNil(c.ScopesAdded), ScopesDropped: nonNil(c.ScopesDropped), Endpoint: c.Endpoint, Objects: []string{},
		Notes: c.Notes, ConnectedAt: tp(c.ConnectedAt), LastActivityAt: tp(c.LastActivityAt), LastCheckedAt: tp(c.LastCheckedAt),
		ExpiresAt: tp(c.ExpiresAt), LastError: c.LastError}
	if e := connection.Explain(c.Reason); e.Cause != "" {
		v.Explanation = &e
	}
	if v.Config == nil {
		v.Config = map[string]string{}
	}
	if p != nil {
		v.ProviderName = p.Name
		for _, o := range p.Objects {
			v.Objects = append(v.Objects, o.Name)
		}
	}
	v.NotUsedRecently = connection.NotUsedRecently(c, h.now())
	return v
}

type syncView struct {
	ID           string          `json:"id"`
	Direction    string          `json:"direction"`
	ConnectionID string          `json:"connection_id"`
	TableID      string          `json:"table_id"`
	Object       string          `json:"object"`
	Filter       string          `json:"filter"`
	Mapping      []store.Mapping `json:"mapping"`
	MatchKey     string          `json:"match_key"`
	Mode         string          `json:"mode"`
	Schedule     string          `json:"schedule"`
	Paused       bool            `json:"paused"`
	PauseReason  string          `json:"pause_reason"`
	// WaitingForReconnect: the sync stopped on the connection's credentials
	// and resumes by itself after a successful reconnect.
	WaitingForReconnect bool `json:"waiting_for_reconnect"`
	MaxRecords          int  `json:"max_records"`
	// Realtime says what "realtime" means for this sync (realtime schedules only).
	Realtime *syncRealtimeView `json:"realtime,omitempty"`
}

func viewSync(y *store.Sync) syncView {
	m := y.Mapping
	if m == nil {
		m = []store.Mapping{}
	}
	return syncView{ID: y.ID, Direction: y.Direction, ConnectionID: y.ConnectionID, TableID: y.TableID, Object: y.Object, Filter: y.Filter,
		Mapping: m, MatchKey: y.MatchKey, Mode: y.Mode, Schedule: y.Schedule, Paused: y.Paused, PauseReason: y.PauseReason, MaxRecords: y.MaxRecords,
		WaitingForReconnect: y.Paused && y.PauseReason == connection.PauseAuthFailed}
}

type runView struct {
	ID         string           `json:"id"`
	SyncID     string           `json:"sync_id"`
	Trigger    string           `json:"trigger"`
	Status     string           `json:"status"`
	StartedAt  time.Time        `json:"started_at"`
	FinishedAt *time.Time       `json:"finished_at"`
	Read       int              `json:"read"`
	Created    int              `json:"created"`
	Updated    int              `json:"updated"`
	Unchanged  int              `json:"unchanged"`
	Failed     int              `json:"failed"`
	ErrorClass string           `json:"error_class"`
	Error      string           `json:"error"`
	RowErrors  []store.RowError `json:"row_errors"`
}

func viewRun(r *store.Run) runView {
	re := r.RowErrors
	if re == nil {
		re = []store.RowError{}
	}
	return runView{ID: r.ID, SyncID: r.SyncID, Trigger: r.Trigger, Status: r.Status, StartedAt: r.StartedAt, FinishedAt: tp(r.FinishedAt),
		Read: r.Read, Created: r.Created, Updated: r.Updated, Unchanged: r.Unchanged, Failed: r.Failed, ErrorClass: r.ErrorClass,
		Error: r.Error, RowErrors: re}
}

type eventView struct {
	ID           string         `json:"id"`
	Kind         string         `json:"kind"`
	ConnectionID string         `json:"connection_id,omitempty"`
	Message      string         `json:"message"`
	Data         map[string]any `json:"data"`
	CreatedAt    time.Time      `json:"created_at"`
}

func viewEvent(e *store.Event) eventView {
	return eventView{ID: e.ID, Kind: e.Kind, ConnectionID: e.ConnectionID, Message: e.Message, Data: e.Data, CreatedAt: e.CreatedAt}
}

// detail is the full connection view: syncs, the scopes they use, history.
func (h *Handler) detail(ctx context.Context, c *store.Connection) *connectionDetail {
	p, _ := h.conns.Catalog().Get(c.Provider)
	d := &connectionDetail{connectionView: h.viewConnection(c, p), ScopesRequired: []string{}, Scopes: []scopeView{},
		LeastPrivilege: []string{}, Syncs: []syncView{}, RecentRuns: []runView{}, RecentErrors: []eventView{}}
	if u, err := h.store.Usage(ctx, c.ID); err == nil {
		d.APIUsage = &usageView{Used: u.Used, Limit: u.Limit, Period: u.Period, ObservedAt: u.ObservedAt}
	} else if !errors.Is(err, store.ErrNotFound) {
		h.log.ErrorContext(ctx, "read usage", "connection", c.ID, "err", err)
	}
	syncs, err := h.store.ListSyncs(ctx, c.ID)
	if err != nil {
		h.log.ErrorContext(ctx, "list syncs", "connection", c.ID, "err", err)
	}
	for _, y := range syncs {
		d.Syncs = append(d.Syncs, h.viewSyncOf(ctx, y))
	}
	d.Realtime = h.realtimeOf(ctx, c)
	if p != nil {
		d.ScopesRequired = append(d.ScopesRequired, connection.SyncScopes(p, syncs)...)
		for _, s := range p.Scopes {
			sv := scopeView{Scope: s, Granted: slices.Contains(c.ScopesGranted, s.Name), Used: slices.Contains(d.ScopesRequired, s.Name) || s.Required}
			d.Scopes = append(d.Scopes, sv)
			if sv.Granted && !sv.Used && s.Access != "read" {
				d.LeastPrivilege = append(d.LeastPrivilege, s.Name+" ("+s.Access+") is granted but no sync uses it")
			}
		}
		for _, need := range d.ScopesRequired {
			if c.Status == connection.StatusConnected && !slices.Contains(c.ScopesGranted, need) {
				d.LeastPrivilege = append(d.LeastPrivilege, need+" is needed by a sync but not granted: reconnect and approve it")
			}
		}
	}
	runs, err := h.store.ListRuns(ctx, c.WorkspaceID, "", c.ID, 20)
	if err != nil {
		h.log.ErrorContext(ctx, "list runs", "connection", c.ID, "err", err)
	}
	for _, r := range runs {
		d.RecentRuns = append(d.RecentRuns, viewRun(r))
	}
	evs, err := h.store.ListEvents(ctx, c.WorkspaceID, c.ID, 50)
	if err != nil {
		h.log.ErrorContext(ctx, "list events", "connection", c.ID, "err", err)
	}
	for _, e := range evs {
		switch e.Kind {
		case "connection.refresh_failed", "connection.account_mismatch", "connection.consent_denied", "sync.failed":
			d.RecentErrors = append(d.RecentErrors, viewEvent(e))
		case "connection.status_changed":
			if to, _ := e.Data["to"].(string); to != "" && !strings.HasPrefix(to, connection.StatusConnected+"/") {
				d.RecentErrors = append(d.RecentErrors, viewEvent(e))
			}
		}
	}
	return d
}

var callbackPage = template.Must(template.New("callback").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.P.Title}} · Patchbay</title></head>
<body><main>
<h1>{{.P.Title}}</h1>
<p role="alert" data-reason="{{.P.Reason}}">{{.P.Detail}}</p>
{{if .P.Reason}}<p>Reason: <code>{{.P.Reason}}</code></p>{{end}}
<p><a href="/{{if .ID}}connections/{{.ID}}{{end}}">Back to Patchbay</a></p>
<script>if (window.opener) { window.opener.postMessage({patchbay: "oauth", result: "error", status: {{.P.Status}}, reason: {{.P.Reason}}, detail: {{.P.Detail}}}, window.location.origin); }</script>
</main></body></html>`))

func renderCallbackPage(w http.ResponseWriter, p Problem, res *connection.CallbackResult) {
	id := ""
	if res != nil && res.Connection != nil {
		id = res.Connection.ID
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(p.Status)
	_ = callbackPage.Execute(w, map[string]any{"P": p, "ID": id})
}
