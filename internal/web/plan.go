package web

import (
	"net/http"
	"slices"
)

// The plan page: the workspace's plan, what each tier includes, upgrade and
// downgrade (the API allows it to admins and owners), and the webhook
// bridge as the way to bring a premium provider's data in without it.

type workspaceInfo struct {
	Plan    string   `json:"plan"`
	Plans   []string `json:"plans"`
	Premium []string `json:"premium_integrations"`
	Role    string   `json:"role"`
}

// tierInfo is one plan with the integrations it includes.
type tierInfo struct {
	Name         string
	Label        string
	Current      bool
	Integrations []string
	Adds         []string // what it adds to the plan before it
}

var planLabels = map[string]string{"standard": "Standard", "premium": "Premium"}

func (h *Handler) loadPlans(r *http.Request, s *session) (*workspaceInfo, []tierInfo, error) {
	var ws workspaceInfo
	if err := h.call(r.Context(), s, "GET", "/workspace", nil, &ws); err != nil {
		return nil, nil, err
	}
	var ps struct {
		Providers []struct{ ID, Name, Tier string } `json:"providers"`
	}
	if err := h.call(r.Context(), s, "GET", "/providers", nil, &ps); err != nil {
		return nil, nil, err
	}
	var tiers []tierInfo
	for i, p := range ws.Plans {
		t := tierInfo{Name: p, Label: planLabels[p], Current: p == ws.Plan}
		if t.Label == "" {
			t.Label = p
		}
		for _, pr := range ps.Providers {
			at := slices.Index(ws.Plans, pr.Tier)
			if at <= i {
				t.Integrations = append(t.Integrations, pr.Name)
			}
			if at == i && i > 0 {
				t.Adds = append(t.Adds, pr.Name)
			}
		}
		tiers = append(tiers, t)
	}
	return &ws, tiers, nil
}

func (h *Handler) planPage(w http.ResponseWriter, r *http.Request, s *session) {
	ws, tiers, err := h.loadPlans(r, s)
	if err != nil {
		h.errorPage(w, s, h.asProblem(r.Context(), err), "/")
		return
	}
	d := h.pageData(s, "Plan")
	d["Nav"] = "plan"
	d["W"], d["Tiers"] = ws, tiers
	d["MayChange"] = ws.Role == "admin" || ws.Role == "owner"
	d["Notice"] = notices[r.URL.Query().Get("notice")]
	h.render(w, http.StatusOK, "plan", d)
}

// changePlan moves the workspace to another plan; a downgrade first shows
// what it pauses.
func (h *Handler) changePlan(w http.ResponseWriter, r *http.Request, s *session) {
	plan := r.PostFormValue("plan")
	ws, tiers, err := h.loadPlans(r, s)
	if err != nil {
		h.errorPage(w, s, h.asProblem(r.Context(), err), "/plan")
		return
	}
	down := slices.Index(ws.Plans, plan) < slices.Index(ws.Plans, ws.Plan)
	if down && r.PostFormValue("confirmed") == "" {
		var loses []string
		for _, t := range tiers {
			if t.Name == ws.Plan {
				loses = t.Adds
			}
		}
		h.renderConfirm(w, s, http.StatusOK, &confirmPage{
			Title:  "Move to the " + planLabels[plan] + " plan?",
			Crumbs: []crumb{{"/plan", "Plan"}},
			Lead:   "The syncs of connections to integrations the plan does not include pause (reason: plan) until you upgrade again; nothing is deleted.",
			Goes:   []string{"running syncs of " + joinNames(loses) + " connections (paused, not deleted)"},
			Keeps:  []string{"those connections, their tables and rows", "everything of the other integrations"},
			Action: "/plan", Hidden: map[string][]string{"plan": {plan}, "confirmed": {"1"}}, Button: "Move to " + planLabels[plan], Return: "/plan",
		}, nil)
		return
	}
	if err := h.call(r.Context(), s, "PATCH", "/workspace", map[string]any{"plan": plan}, nil); err != nil {
		h.errorPage(w, s, h.asProblem(r.Context(), err), "/plan")
		return
	}
	http.Redirect(w, r, "/plan?notice=plan_changed", http.StatusSeeOther)
}

func joinNames(names []string) string {
	switch len(names) {
	case 0:
		return "premium"
	case 1:
		return names[0]
	}
	out := names[0]
	for i, n := range names[1:] {
		if i == len(names)-2 {
			out += " and " + n
		} else {
			out += ", " + n
		}
	}
	return out
}
