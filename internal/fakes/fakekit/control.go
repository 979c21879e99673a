package fakekit

import (
	"encoding/json"
	"net/http"
	"time"
)

// controlRoutes mounts the control surface of shared/API.md ("Provider
// fakes"). Bodies are JSON; an omitted account means the default account.
func (k *Kit) controlRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /_control/outage", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			On bool `json:"on"`
		}
		if decode(w, r, &in) {
			k.SetOutage(in.On)
			WriteJSON(w, http.StatusOK, map[string]bool{"on": in.On})
		}
	})
	mux.HandleFunc("POST /_control/revoke", func(w http.ResponseWriter, r *http.Request) {
		var in accountBody
		if decode(w, r, &in) {
			k.Revoke(k.orDefault(in.Account))
			WriteJSON(w, http.StatusOK, map[string]string{"account": k.orDefault(in.Account)})
		}
	})
	mux.HandleFunc("POST /_control/expire", func(w http.ResponseWriter, r *http.Request) {
		var in accountBody
		if decode(w, r, &in) {
			k.Expire(k.orDefault(in.Account))
			WriteJSON(w, http.StatusOK, map[string]string{"account": k.orDefault(in.Account)})
		}
	})
	mux.HandleFunc("POST /_control/rate_limit", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			PerSecond int `json:"per_second"`
		}
		if decode(w, r, &in) {
			k.SetRateLimit(in.PerSecond, time.Second)
			k.mu.Lock()
			out := map[string]any{"requests": k.limit, "window_seconds": k.per.Seconds()}
			k.mu.Unlock()
			WriteJSON(w, http.StatusOK, out)
		}
	})
	mux.HandleFunc("POST /_control/token", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Account string   `json:"account"`
			Scopes  []string `json:"scopes"`
		}
		if decode(w, r, &in) {
			if in.Account != "" && !accountPattern.MatchString(in.Account) {
				controlError(w, "account ids are 1-64 letters, digits, '.', '_', '@' or '-'")
				return
			}
			WriteJSON(w, http.StatusOK, k.IssueToken(k.orDefault(in.Account), in.Scopes))
		}
	})
	mux.HandleFunc("POST /_control/records", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Account string           `json:"account"`
			Object  string           `json:"object"`
			Records []map[string]any `json:"records"`
		}
		if !decode(w, r, &in) {
			return
		}
		if !k.knowsObject(in.Object) {
			controlError(w, "unknown object "+in.Object)
			return
		}
		recs := k.Records(k.orDefault(in.Account), in.Object).Seed(in.Records)
		WriteJSON(w, http.StatusOK, map[string]any{"records": recs})
	})
	mux.HandleFunc("GET /_control/records", func(w http.ResponseWriter, r *http.Request) {
		object := r.URL.Query().Get("object")
		if !k.knowsObject(object) {
			controlError(w, "unknown object "+object)
			return
		}
		recs := k.Records(k.orDefault(r.URL.Query().Get("account")), object).All()
		WriteJSON(w, http.StatusOK, map[string]any{"records": recs})
	})
	mux.HandleFunc("GET /_control/stats", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, k.Stats())
	})
}

type accountBody struct {
	Account string `json:"account"`
}

func (k *Kit) orDefault(account string) string {
	if account == "" {
		return k.o.DefaultAccount
	}
	return account
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 8<<20)).Decode(v); err != nil {
		controlError(w, "body must be JSON: "+err.Error())
		return false
	}
	return true
}

func controlError(w http.ResponseWriter, msg string) {
	WriteJSON(w, http.StatusBadRequest, map[string]string{"error": msg})
}
