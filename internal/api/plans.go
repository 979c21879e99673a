package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"

	"patchbay/internal/access"
	"patchbay/internal/catalog"
	"patchbay/internal/connection"
	"patchbay/internal/store"
)

// plans are the plans a workspace can be on, lowest first; a plan includes
// the integrations of its tier and of every tier before it.
var plans = []string{catalog.TierStandard, catalog.TierPremium}

type workspaceView struct {
	ID    string   `json:"id"`
	Name  string   `json:"name"`
	Plan  string   `json:"plan"`
	Plans []string `json:"plans"`
	// Premium lists the catalog's integrations that need the premium plan.
	Premium []string `json:"premium_integrations"`
	// Role is the caller's role here, Actor who they are, Roles every role.
	Role  access.Role   `json:"role"`
	Actor string        `json:"actor"`
	Roles []access.Role `json:"roles"`
}

func (h *Handler) viewWorkspace(ws *store.Workspace, pr *Principal) workspaceView {
	v := workspaceView{ID: ws.ID, Name: ws.Name, Plan: ws.Plan, Plans: plans, Premium: []string{},
		Role: pr.Role, Actor: pr.Actor(), Roles: access.Roles()}
	for _, p := range h.conns.Catalog().All() {
		if p.Tier == catalog.TierPremium {
			v.Premium = append(v.Premium, p.ID)
		}
	}
	return v
}

// registerWorkspace mounts the workspace's own settings: its plan, and who
// the caller is in it.
func (h *Handler) registerWorkspace(mux *http.ServeMux) {
	h.route(mux, "GET /api/v1/workspace", access.Viewer, func(w http.ResponseWriter, r *http.Request, pr *Principal) {
		writeJSON(w, http.StatusOK, h.viewWorkspace(pr.Workspace, pr))
	})
	h.route(mux, "PATCH /api/v1/workspace", access.Admin, h.patchWorkspace)
}

func (h *Handler) patchWorkspace(w http.ResponseWriter, r *http.Request, pr *Principal) {
	var body struct {
		Plan *string `json:"plan"`
	}
	if err := decode(r, &body); err != nil {
		h.fail(w, r, err)
		return
	}
	ws := *pr.Workspace
	if body.Plan != nil && *body.Plan != ws.Plan {
		if !slices.Contains(plans, *body.Plan) {
			h.fail(w, r, &connection.ValidationError{Fields: []catalog.FieldError{{Field: "plan",
				Message: fmt.Sprintf("%q is not a plan; choose one of %v", *body.Plan, plans)}}})
			return
		}
		prev := ws.Plan
		ws.Plan = *body.Plan
		conns, err := h.store.ListConnections(r.Context(), ws.ID)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		err = h.store.InTx(r.Context(), func(tx *store.Tx) error {
			if err := tx.SetPlan(r.Context(), ws.ID, ws.Plan); err != nil {
				return err
			}
			if err := h.planSyncs(r, tx, &ws, conns); err != nil {
				return err
			}
			return tx.AddEvent(r.Context(), &store.Event{WorkspaceID: ws.ID, Kind: "workspace.plan_changed",
				Message: fmt.Sprintf("plan changed from %s to %s by %s", prev, ws.Plan, pr.Token.Name),
				Data:    map[string]any{"from": prev, "to": ws.Plan}})
		})
		if err != nil {
			h.fail(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, h.viewWorkspace(&ws, pr))
}

// PausePlan is the pause reason of a sync whose connection's integration
// the workspace's plan no longer includes.
const PausePlan = "plan"

// planSyncs pauses the syncs of the connections the new plan leaves out
// (their data stays) and resumes those it includes again.
func (h *Handler) planSyncs(r *http.Request, tx *store.Tx, ws *store.Workspace, conns []*store.Connection) error {
	for _, c := range conns {
		p, ok := h.conns.Catalog().Get(c.Provider)
		if !ok {
			continue
		}
		if slices.Index(plans, p.Tier) > slices.Index(plans, ws.Plan) {
			if err := tx.PauseSyncs(r.Context(), c.ID, PausePlan); err != nil {
				return err
			}
			continue
		}
		if _, err := tx.ResumeSyncs(r.Context(), c.ID, PausePlan); err != nil {
			return err
		}
	}
	return nil
}

// registerProviderWebhooks mounts the receiver of providers' signed lifecycle
// webhooks (Shopify's app/uninstalled). It is not under /api/v1: the provider
// authenticates by signing the body, not with a Patchbay token.
func (h *Handler) registerProviderWebhooks(mux *http.ServeMux) {
	mux.HandleFunc("POST /webhooks/providers/{provider}", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			writeProblem(w, Problem{Status: http.StatusRequestEntityTooLarge, Detail: "webhook bodies are limited to 1 MiB"})
			return
		}
		n, err := h.conns.ProviderWebhook(r.Context(), r.PathValue("provider"), r.Header, body)
		if errors.Is(err, connection.ErrWebhookSignature) {
			h.log.WarnContext(r.Context(), "provider webhook refused", "provider", r.PathValue("provider"), "err", err)
			writeProblem(w, Problem{Type: "/problems/webhook-signature", Title: "Bad signature", Status: http.StatusUnauthorized, Detail: err.Error()})
			return
		}
		if err != nil {
			h.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]int{"connections_changed": n})
	})
}
