package httpapi

import (
	"net/http"
	"time"

	"github.com/rosterhq/roster/commands"
	"github.com/rosterhq/roster/domain"
)

func (s *server) registerWebhookRoutes(r routes) {
	r.handle(http.MethodPost, "/properties/{pid}/webhooks", s.createWebhook)
	r.handle(http.MethodGet, "/properties/{pid}/webhooks", s.listWebhooks)
	r.handle(http.MethodPatch, "/properties/{pid}/webhooks/{wid}", s.updateWebhook)
	r.handle(http.MethodDelete, "/properties/{pid}/webhooks/{wid}", s.changeWebhook(commands.WebhookDelete))
	r.handle(http.MethodPost, "/properties/{pid}/webhooks/{wid}/disable", s.changeWebhook(commands.WebhookDisable))
	r.handle(http.MethodPost, "/properties/{pid}/webhooks/{wid}/enable", s.changeWebhook(commands.WebhookEnable))
	r.handle(http.MethodPost, "/properties/{pid}/webhooks/{wid}/rotate-secret", s.rotateWebhookSecret)
}

// webhookBody is the settings of an endpoint as a client sends them; a
// field left out of an update stays as it is.
type webhookBody struct {
	URL         *string   `json:"url"`
	EventTypes  *[]string `json:"event_types"`
	Description *string   `json:"description"`
}

func (b webhookBody) settings() domain.WebhookSettings {
	return domain.WebhookSettings{URL: b.URL, EventTypes: b.EventTypes, Description: b.Description}
}

// webhookView is an endpoint as the API shows it: never its secret.
type webhookView struct {
	ID             string     `json:"id"`
	URL            string     `json:"url"`
	EventTypes     []string   `json:"event_types"`
	Description    string     `json:"description"`
	Status         string     `json:"status"`
	DisabledReason string     `json:"disabled_reason,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	PreviousSecret *time.Time `json:"previous_secret_valid_until"`
}

func newWebhookView(w domain.WebhookEndpoint, now time.Time) webhookView {
	v := webhookView{ID: w.ID, URL: w.URL, EventTypes: w.EventTypes, Description: w.Description, Status: "enabled",
		DisabledReason: w.DisabledReason, CreatedAt: w.CreatedAt.UTC(), UpdatedAt: w.UpdatedAt.UTC()}
	if !w.Enabled {
		v.Status = "disabled"
	}
	if w.PreviousNonce != "" && now.Before(w.PreviousUntil) {
		until := w.PreviousUntil.UTC()
		v.PreviousSecret = &until
	}
	return v
}

// secretResponse is the one answer that shows an endpoint's signing secret.
type secretResponse struct {
	commandResponse
	EndpointID string `json:"endpoint_id"`
	Secret     string `json:"secret"`
}

// writeSecret answers a command that issued a secret; no cache may keep it.
func writeSecret(w http.ResponseWriter, status int, res commands.WebhookSecretResult) {
	w.Header().Set("Cache-Control", "no-store")
	writeResult(w, status, res.Result, secretResponse{newCommandResponse(res.Result), res.EndpointID, res.Secret})
}

func (s *server) createWebhook(w http.ResponseWriter, r *http.Request) {
	var body webhookBody
	m, err := readCommand(w, r, &body)
	if err != nil {
		writeError(w, r, err)
		return
	}
	res, err := s.cmd.CreateWebhook.Handle(r.Context(), m, commands.CreateWebhook{PropertyID: vars(r)["pid"], Settings: body.settings()})
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeSecret(w, http.StatusCreated, res)
}

func (s *server) rotateWebhookSecret(w http.ResponseWriter, r *http.Request) {
	m, err := readCommand(w, r, nil)
	if err != nil {
		writeError(w, r, err)
		return
	}
	res, err := s.cmd.RotateWebhookSecret.Handle(r.Context(), m,
		commands.RotateWebhookSecret{PropertyID: vars(r)["pid"], EndpointID: vars(r)["wid"]})
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeSecret(w, http.StatusOK, res)
}

func (s *server) updateWebhook(w http.ResponseWriter, r *http.Request) {
	var body webhookBody
	simpleCommand(w, r, &body, func(m commands.Meta) (commands.Result, error) {
		return s.cmd.ChangeWebhook.Handle(r.Context(), m, commands.ChangeWebhook{PropertyID: vars(r)["pid"],
			EndpointID: vars(r)["wid"], Change: commands.WebhookUpdate, Settings: body.settings()})
	})
}

func (s *server) changeWebhook(change commands.WebhookChange) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		simpleCommand(w, r, nil, func(m commands.Meta) (commands.Result, error) {
			return s.cmd.ChangeWebhook.Handle(r.Context(), m,
				commands.ChangeWebhook{PropertyID: vars(r)["pid"], EndpointID: vars(r)["wid"], Change: change})
		})
	}
}

// listWebhooks answers from the property's stream, which the commands keep
// current, so an endpoint just added is listed at once.
func (s *server) listWebhooks(w http.ResponseWriter, r *http.Request) {
	m := commands.Meta{Actor: actorOf(r.Context()), CorrelationID: requestID(r.Context())}
	list, err := s.cmd.ListWebhooks.Handle(r.Context(), m, vars(r)["pid"])
	if err != nil {
		writeError(w, r, err)
		return
	}
	now := s.now()
	views := make([]webhookView, 0, len(list))
	for _, e := range list {
		views = append(views, newWebhookView(e, now))
	}
	writeJSON(w, http.StatusOK, struct {
		Endpoints []webhookView `json:"endpoints"`
	}{views})
}
