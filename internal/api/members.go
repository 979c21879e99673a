package api

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"strings"
	"time"

	"patchbay/internal/access"
	"patchbay/internal/catalog"
	"patchbay/internal/connection"
	"patchbay/internal/store"
)

// registerMembers mounts the workspace, member and API token routes.
func (h *Handler) registerMembers(mux *http.ServeMux) {
	h.route(mux, "GET /api/v1/workspace/members", access.Viewer, h.listMembers)
	h.route(mux, "POST /api/v1/workspace/members", access.Admin, h.addMember)
	h.route(mux, "PATCH /api/v1/workspace/members/{id}", access.Admin, h.patchMember)
	h.route(mux, "DELETE /api/v1/workspace/members/{id}", access.Admin, h.removeMember)
	// Anyone may manage their own tokens; the handlers keep others' to admins.
	h.route(mux, "GET /api/v1/tokens", access.Viewer, h.listTokens)
	h.route(mux, "POST /api/v1/tokens", access.Viewer, h.createToken)
	h.route(mux, "DELETE /api/v1/tokens/{id}", access.Viewer, h.revokeToken)
}

func invalidField(field, format string, args ...any) error {
	return &connection.ValidationError{Fields: []catalog.FieldError{{Field: field, Message: fmt.Sprintf(format, args...)}}}
}

func roleProblem(w http.ResponseWriter, need access.Role, detail string) {
	writeProblem(w, Problem{Type: "/problems/role", Title: "Your role may not do this", Status: http.StatusForbidden, RequiredRole: string(need), Detail: detail})
}

type memberView struct {
	UserID    string    `json:"user_id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"created_at"`
}

func viewMember(m *store.Member) memberView {
	return memberView{UserID: m.User.ID, Email: m.User.Email, Name: m.User.Name, Role: m.Role, CreatedAt: m.CreatedAt}
}

func (h *Handler) listMembers(w http.ResponseWriter, r *http.Request, pr *Principal) {
	ms, err := h.store.ListMembers(r.Context(), pr.Workspace.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := []memberView{}
	for _, m := range ms {
		out = append(out, viewMember(m))
	}
	writeJSON(w, http.StatusOK, map[string]any{"members": out})
}

func (h *Handler) addMember(w http.ResponseWriter, r *http.Request, pr *Principal) {
	var body struct {
		Email string `json:"email"`
		Name  string `json:"name"`
		Role  string `json:"role"`
	}
	if err := decode(r, &body); err != nil {
		h.fail(w, r, err)
		return
	}
	if _, err := mail.ParseAddress(body.Email); err != nil || strings.ContainsAny(body.Email, "<> ") {
		h.fail(w, r, invalidField("email", "want a plain e-mail address like ada@example.com"))
		return
	}
	role, err := access.Parse(body.Role)
	if err != nil {
		h.fail(w, r, invalidField("role", "%v", err))
		return
	}
	if role == access.Owner && pr.Role != access.Owner {
		roleProblem(w, access.Owner, "only an owner may appoint an owner")
		return
	}
	u, err := h.store.EnsureUser(r.Context(), body.Email, body.Name)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.store.AddMember(r.Context(), pr.Workspace.ID, u.ID, string(role)); err != nil {
		h.fail(w, r, err)
		return
	}
	m, err := h.store.GetMember(r.Context(), pr.Workspace.ID, u.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.audit(r, pr, "member.added", fmt.Sprintf("%s joined as %s", m.User.Email, role))
	writeJSON(w, http.StatusCreated, viewMember(m))
}

// changeMember applies change to a member in one transaction, refusing to
// touch owners unless the caller is one and to leave the workspace without one.
func (h *Handler) changeMember(w http.ResponseWriter, r *http.Request, pr *Principal, newRole access.Role, change func(tx *store.Tx, m *store.Member) error) (*store.Member, bool) {
	ctx := r.Context()
	var m *store.Member
	var refused access.Role
	err := h.store.InTx(ctx, func(tx *store.Tx) error {
		var err error
		if m, err = tx.GetMember(ctx, pr.Workspace.ID, r.PathValue("id")); err != nil {
			return err
		}
		if (m.Role == string(access.Owner) || newRole == access.Owner) && pr.Role != access.Owner {
			refused = access.Owner
			return nil
		}
		if m.Role == string(access.Owner) && newRole != access.Owner {
			n, err := tx.CountOwners(ctx, pr.Workspace.ID)
			if err != nil {
				return err
			}
			if n <= 1 {
				return fmt.Errorf("%s is the workspace's last owner; appoint another owner first: %w", m.User.Email, store.ErrConflict)
			}
		}
		return change(tx, m)
	})
	if err != nil {
		h.fail(w, r, err)
		return nil, false
	}
	if refused != "" {
		roleProblem(w, refused, "only an owner may change or remove an owner, or appoint one")
		return nil, false
	}
	return m, true
}

func (h *Handler) patchMember(w http.ResponseWriter, r *http.Request, pr *Principal) {
	var body struct {
		Role string `json:"role"`
	}
	if err := decode(r, &body); err != nil {
		h.fail(w, r, err)
		return
	}
	// Look the member up first: another workspace's id is a 404 whatever the body says.
	if _, err := h.store.GetMember(r.Context(), pr.Workspace.ID, r.PathValue("id")); err != nil {
		h.fail(w, r, err)
		return
	}
	role, err := access.Parse(body.Role)
	if err != nil {
		h.fail(w, r, invalidField("role", "%v", err))
		return
	}
	m, ok := h.changeMember(w, r, pr, role, func(tx *store.Tx, m *store.Member) error {
		return tx.SetMemberRole(r.Context(), m.WorkspaceID, m.User.ID, string(role))
	})
	if !ok {
		return
	}
	h.audit(r, pr, "member.role_changed", fmt.Sprintf("%s is now %s (was %s)", m.User.Email, role, m.Role))
	m.Role = string(role)
	writeJSON(w, http.StatusOK, viewMember(m))
}

func (h *Handler) removeMember(w http.ResponseWriter, r *http.Request, pr *Principal) {
	m, ok := h.changeMember(w, r, pr, "", func(tx *store.Tx, m *store.Member) error {
		return tx.RemoveMember(r.Context(), m.WorkspaceID, m.User.ID, h.now())
	})
	if !ok {
		return
	}
	h.audit(r, pr, "member.removed", m.User.Email+" left the workspace; their tokens are revoked")
	writeJSON(w, http.StatusOK, viewMember(m))
}

type tokenView struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Role      string     `json:"role"`
	UserID    string     `json:"user_id,omitempty"`
	CreatedBy string     `json:"created_by"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at"`
	RevokedAt *time.Time `json:"revoked_at"`
	Token     string     `json:"token,omitempty"` // the value: only in the answer that creates it
}

func viewToken(t *store.Token) tokenView {
	return tokenView{ID: t.ID, Name: t.Name, Role: t.Role, UserID: t.UserID, CreatedBy: t.CreatedBy, CreatedAt: t.CreatedAt,
		ExpiresAt: tp(t.ExpiresAt), RevokedAt: tp(t.RevokedAt)}
}

// mine reports whether t belongs to the caller (their user, or the caller itself).
func (pr *Principal) mine(t *store.Token) bool {
	return t.ID == pr.Token.ID || (pr.Token.UserID != "" && t.UserID == pr.Token.UserID)
}

func (h *Handler) listTokens(w http.ResponseWriter, r *http.Request, pr *Principal) {
	ts, err := h.store.ListTokens(r.Context(), pr.Workspace.ID, "")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := []tokenView{}
	for _, t := range ts {
		if pr.Role.AtLeast(access.Admin) || pr.mine(t) {
			out = append(out, viewToken(t))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": out})
}

// maxTokenLife bounds expires_in so that a typo does not make a token eternal by accident.
const maxTokenLife = 5 * 365 * 24 * time.Hour

func (h *Handler) createToken(w http.ResponseWriter, r *http.Request, pr *Principal) {
	var body struct {
		Name      string `json:"name"`
		Role      string `json:"role"`
		UserID    string `json:"user_id"`
		ExpiresIn string `json:"expires_in"` // a Go duration: "720h"
	}
	if err := decode(r, &body); err != nil {
		h.fail(w, r, err)
		return
	}
	name := strings.TrimSpace(body.Name)
	if name == "" || len(name) > 100 {
		h.fail(w, r, invalidField("name", "give the token a name of 1 to 100 characters, e.g. \"ci-deploy\""))
		return
	}
	role := pr.Role
	if body.Role != "" {
		var err error
		if role, err = access.Parse(body.Role); err != nil {
			h.fail(w, r, invalidField("role", "%v", err))
			return
		}
	}
	if !pr.Role.AtLeast(role) {
		roleProblem(w, role, fmt.Sprintf("a %s token can only be made by a %s or higher; you act as %s", role, role, pr.Role))
		return
	}
	userID := pr.Token.UserID
	if body.UserID != "" && body.UserID != userID {
		if !pr.Role.AtLeast(access.Admin) {
			roleProblem(w, access.Admin, "only admins make tokens for other members")
			return
		}
		m, err := h.store.GetMember(r.Context(), pr.Workspace.ID, body.UserID)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if !access.Role(m.Role).AtLeast(role) {
			h.fail(w, r, invalidField("role", "%s is %s; their token cannot act as %s", m.User.Email, m.Role, role))
			return
		}
		userID = m.User.ID
	}
	t := &store.Token{WorkspaceID: pr.Workspace.ID, UserID: userID, Name: name, Role: string(role), CreatedBy: pr.Actor()}
	if body.ExpiresIn != "" {
		d, err := time.ParseDuration(body.ExpiresIn)
		if err != nil || d <= 0 || d > maxTokenLife {
			h.fail(w, r, invalidField("expires_in", "want a positive duration up to 43800h, like 720h for 30 days"))
			return
		}
		t.ExpiresAt = h.now().Add(d).UTC()
	}
	value, err := newTokenValue()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.store.CreateToken(r.Context(), t, connection.HashToken(value)); err != nil {
		h.fail(w, r, err)
		return
	}
	h.audit(r, pr, "token.created", fmt.Sprintf("API token %q (%s) created", t.Name, t.Role))
	v := viewToken(t)
	v.Token = value
	writeJSON(w, http.StatusCreated, v)
}

func (h *Handler) revokeToken(w http.ResponseWriter, r *http.Request, pr *Principal) {
	t, err := h.store.GetToken(r.Context(), pr.Workspace.ID, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if !pr.mine(t) && !pr.Role.AtLeast(access.Admin) {
		roleProblem(w, access.Admin, "only admins revoke other members' tokens")
		return
	}
	if err := h.store.RevokeToken(r.Context(), pr.Workspace.ID, t.ID, h.now()); err != nil {
		h.fail(w, r, err)
		return
	}
	t, err = h.store.GetToken(r.Context(), pr.Workspace.ID, t.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.audit(r, pr, "token.revoked", fmt.Sprintf("API token %q revoked", t.Name))
	writeJSON(w, http.StatusOK, viewToken(t))
}

func (h *Handler) audit(r *http.Request, pr *Principal, kind, msg string) {
	if err := h.store.AddEvent(r.Context(), &store.Event{WorkspaceID: pr.Workspace.ID, Kind: kind, Message: msg,
		Data: map[string]any{"actor": pr.Actor()}}); err != nil {
		h.log.ErrorContext(r.Context(), "audit log", "kind", kind, "err", err)
	}
}

func newTokenValue() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", errors.New("no randomness for a token")
	}
	return "pb_" + base64.RawURLEncoding.EncodeToString(b), nil
}
