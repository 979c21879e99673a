package web

import (
	"strings"
	"time"
)

// The API's JSON (shared/API.md), decoded. The dashboard adds only presentation.

type scope struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Access      string `json:"access"`
	Required    bool   `json:"required"`
	Typical     bool   `json:"typical"`
	Granted     bool   `json:"granted"`
	Used        bool   `json:"used"`
}

type configField struct {
	Name        string `json:"name"`
	Label       string `json:"label"`
	Description string `json:"description"`
	Required    bool   `json:"required"`
	Pattern     string `json:"pattern"`
}

type integration struct {
	ID            string        `json:"id"`
	Name          string        `json:"name"`
	Description   string        `json:"description"`
	Auth          string        `json:"auth"`
	Tier          string        `json:"tier"`
	Scopes        []scope       `json:"scopes"`
	Objects       []string      `json:"objects"`
	ObjectDetails []objectInfo  `json:"object_details"`
	ConfigFields  []configField `json:"config_fields"`
	Lookups       []lookupInfo  `json:"lookups"`
	Docs          string        `json:"docs"`
	Available     bool          `json:"available"`
	Connections   []*conn       `json:"connections"`
}

// objectInfo is one object a provider offers, with the fields a mapping or a
// filter may name and the fields an outbound sync may match records by.
type objectInfo struct {
	Name        string   `json:"name"`
	Fields      []string `json:"fields"`
	MatchFields []string `json:"match_fields"`
}

type explanation struct {
	Cause string `json:"cause"`
	Fix   string `json:"fix"`
}

type account struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

type syncInfo struct {
	ID                  string        `json:"id"`
	Direction           string        `json:"direction"`
	ConnectionID        string        `json:"connection_id"`
	TableID             string        `json:"table_id"`
	Object              string        `json:"object"`
	Filter              string        `json:"filter"`
	Mapping             []mappingInfo `json:"mapping"`
	MatchKey            string        `json:"match_key"`
	Mode                string        `json:"mode"`
	Schedule            string        `json:"schedule"`
	MaxRecords          int           `json:"max_records"`
	Paused              bool          `json:"paused"`
	PauseReason         string        `json:"pause_reason"`
	WaitingForReconnect bool          `json:"waiting_for_reconnect"`
}

type mappingInfo struct {
	Source         string `json:"source"`
	Target         string `json:"target"`
	OverwriteEmpty bool   `json:"overwrite_empty"`
}

type runInfo struct {
	ID         string     `json:"id"`
	SyncID     string     `json:"sync_id"`
	Trigger    string     `json:"trigger"`
	Status     string     `json:"status"`
	StartedAt  *time.Time `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
	Read       int        `json:"read"`
	Created    int        `json:"created"`
	Updated    int        `json:"updated"`
	Unchanged  int        `json:"unchanged"`
	Failed     int        `json:"failed"`
	ErrorClass string     `json:"error_class"`
	Error      string     `json:"error"`
	RowErrors  []rowError `json:"row_errors"`
}

type rowError struct {
	RowID      string `json:"row_id"`
	ExternalID string `json:"external_id"`
	Message    string `json:"message"`
}

// rowErrorsShown is how many of a run's row errors a page lists.
const rowErrorsShown = 3

// SampleRowErrors are the first of the run's row errors.
func (r runInfo) SampleRowErrors() []rowError {
	return r.RowErrors[:min(len(r.RowErrors), rowErrorsShown)]
}

// MoreRowErrors counts the row errors SampleRowErrors leaves out.
func (r runInfo) MoreRowErrors() int { return max(len(r.RowErrors)-rowErrorsShown, 0) }

type eventInfo struct {
	Kind      string     `json:"kind"`
	Message   string     `json:"message"`
	CreatedAt *time.Time `json:"created_at"`
}

// conn is a connection as GET /connections/{id} shows it (the list view
// leaves the detail fields empty).
type conn struct {
	ID              string            `json:"id"`
	Provider        string            `json:"provider"`
	ProviderName    string            `json:"provider_name"`
	Status          string            `json:"status"`
	Reason          string            `json:"reason"`
	ReasonDetail    string            `json:"reason_detail"`
	Health          string            `json:"health"`
	Explanation     *explanation      `json:"explanation"`
	Account         account           `json:"account"`
	Config          map[string]string `json:"config"`
	ScopesRequested []string          `json:"scopes_requested"`
	ScopesGranted   []string          `json:"scopes_granted"`
	ScopesAdded     []string          `json:"scopes_added"`
	ScopesDropped   []string          `json:"scopes_dropped"`
	Endpoint        string            `json:"endpoint"`
	Objects         []string          `json:"objects"`
	Notes           string            `json:"notes"`
	ConnectedAt     *time.Time        `json:"connected_at"`
	LastActivityAt  *time.Time        `json:"last_activity_at"`
	LastCheckedAt   *time.Time        `json:"last_checked_at"`
	ExpiresAt       *time.Time        `json:"expires_at"`
	NotUsedRecently bool              `json:"not_used_recently"`
	LastError       string            `json:"last_error"`
	ScopesRequired  []string          `json:"scopes_required"`
	Scopes          []scope           `json:"scopes"`
	LeastPrivilege  []string          `json:"least_privilege"`
	Syncs           []syncInfo        `json:"syncs"`
	RecentRuns      []runInfo         `json:"recent_runs"`
	RecentErrors    []eventInfo       `json:"recent_errors"`
}

// Label is the badge text: the colour's meaning and, for caution and
// action required, the reason.
func (c *conn) Label() string {
	reason := strings.ReplaceAll(c.Reason, "_", " ")
	switch c.Health {
	case "green":
		return "Connected"
	case "yellow":
		return "Caution: " + reason
	case "red":
		return "Action required: " + reason
	}
	if c.Status == "disconnected" {
		return "Disconnected"
	}
	return "Not connected"
}

// AccountLabel is the account's name, e-mail and id (portal, store) as far as known.
func (c *conn) AccountLabel() string {
	var parts []string
	for _, s := range []string{c.Account.Name, c.Account.Email} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	if c.Account.ID != "" && c.Account.ID != c.Account.Name {
		parts = append(parts, "account "+c.Account.ID)
	}
	if len(parts) == 0 {
		return "—"
	}
	return strings.Join(parts, " · ")
}

// ExtraDetail is the stored reason detail when it adds to the explanation
// (for example which permission is missing).
func (c *conn) ExtraDetail() string {
	if c.Explanation != nil && c.ReasonDetail == c.Explanation.Cause {
		return ""
	}
	return c.ReasonDetail
}

// Attention reports whether the connection needs someone (yellow or red).
func (c *conn) Attention() bool { return c.Health == "red" || c.Health == "yellow" }

// Live reports whether the connection holds credentials that can be tested.
func (c *conn) Live() bool { return c.Status != "disconnected" && c.Status != "not_connected" }

// visible leaves out connections whose consent was never finished: they are
// abandoned attempts, not connections anyone made.
func (it *integration) visible() []*conn {
	var out []*conn
	for _, c := range it.Connections {
		if c.Status != "not_connected" {
			out = append(out, c)
		}
	}
	return out
}

// matches reports whether the card passes the status filter.
func (it *integration) matches(filter string) bool {
	conns := it.visible()
	switch filter {
	case "attention":
		for _, c := range conns {
			if c.Attention() {
				return true
			}
		}
		return false
	case "connected":
		for _, c := range conns {
			if c.Health == "green" || c.Health == "yellow" {
				return true
			}
		}
		return false
	case "not_connected":
		for _, c := range conns {
			if c.Health != "grey" {
				return false
			}
		}
		return true
	}
	return true
}

// card is what the card template shows for one integration.
type card struct {
	*integration
	Conns []*conn
	Fake  bool // the demo serves a fake for it: show the control panel
	// CanCreate: the fake can create a sample record (the demo's "Create a lead").
	CanCreate bool
	CSRF      string
}

// OAuth reports whether the integration connects through a consent page.
func (c card) OAuth() bool { return c.Auth == "oauth2" }

// ActiveSyncs are the syncs Sync now may run.
func (c *conn) ActiveSyncs() []syncInfo {
	var out []syncInfo
	for _, y := range c.Syncs {
		if !y.Paused {
			out = append(out, y)
		}
	}
	return out
}

// PausedSyncs counts syncs that wait (for a reconnect or the user).
func (c *conn) PausedSyncs() int {
	n := 0
	for _, y := range c.Syncs {
		if y.Paused {
			n++
		}
	}
	return n
}

// connectForm is the connect form's data: the integration, what was
// submitted (to show it again) and the errors to show next to fields.
type connectForm struct {
	Card    card
	Form    formValues
	Errors  map[string]string
	Problem *problem
}

// Form is the card's empty connect form.
func (c card) Form() connectForm { return connectForm{Card: c, Errors: map[string]string{}} }

// connAction is what a connection's action buttons need.
type connAction struct {
	Card    card
	C       *conn
	Return  string // the page a plain form post comes back to
	Details bool   // offer a link to the connection's page
}

// Action bundles a connection of the card with where its forms return.
func (c card) Action(cn *conn, ret string, details bool) connAction {
	return connAction{Card: c, C: cn, Return: ret, Details: details}
}

// DefaultAccount is the account the demo controls act on: the first
// connection's, or the fake's default account when none is known.
func (c card) DefaultAccount() string {
	for _, cn := range c.Conns {
		if cn.Account.ID != "" {
			return cn.Account.ID
		}
	}
	return ""
}
