package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/rosterhq/roster/commands"
	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/webhooks"
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

// WebhookDeliveries is the delivery log of endpoints (infra/webhooks), and
// what an admin may ask of it.
type WebhookDeliveries interface {
	Log(ctx context.Context, endpointID string, before int64, limit int) ([]webhooks.Delivery, error)
	Redeliver(ctx context.Context, endpointID string, deliveryID int64) (webhooks.Delivery, error)
	Replay(ctx context.Context, endpointID string, since time.Time) (int64, error)
}

func (s *server) registerWebhookDeliveryRoutes(r routes) {
	r.handle(http.MethodGet, "/properties/{pid}/webhooks/{wid}/deliveries", s.webhookDeliveries)
	r.handle(http.MethodPost, "/properties/{pid}/webhooks/{wid}/deliveries/{did}/redeliver", s.redeliverWebhook)
	r.handle(http.MethodPost, "/properties/{pid}/webhooks/{wid}/replay", s.replayWebhook)
}

// webhookAdmin checks that the caller administers the property's settings
// and that the endpoint of the path is one of its, and returns its ID.
func (s *server) webhookAdmin(r *http.Request) (string, error) {
	if s.deliveries == nil {
		return "", domain.Errorf(domain.KindInternal, domain.CodeInternal, "webhook deliveries are not configured")
	}
	m := commands.Meta{Actor: actorOf(r.Context()), CorrelationID: requestID(r.Context())}
	list, err := s.cmd.ListWebhooks.Handle(r.Context(), m, vars(r)["pid"])
	if err != nil {
		return "", err
	}
	wid := vars(r)["wid"]
	for _, e := range list {
		if e.ID == wid {
			return wid, nil
		}
	}
	return "", domain.Errorf(domain.KindNotFound, domain.CodeWebhookNotFound, "property %s has no webhook endpoint %q", vars(r)["pid"], wid)
}

func (s *server) webhookDeliveries(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err := limitParam(q)
	if err == nil && (limit < 0 || limit > webhooks.MaxLogLimit) {
		err = invalidQuery("limit", q.Get("limit"), fmt.Sprintf("is not from 0 to %d", webhooks.MaxLogLimit))
	}
	var before int64
	if raw := q.Get("before"); err == nil && raw != "" {
		if before, err = strconv.ParseInt(raw, 10, 64); err != nil || before < 1 {
			err = invalidQuery("before", raw, "is not a delivery ID")
		}
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	wid, err := s.webhookAdmin(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	log, err := s.deliveries.Log(r.Context(), wid, before, limit)
	if err != nil {
		writeError(w, r, err)
		return
	}
	page := struct {
		Deliveries []webhooks.Delivery `json:"deliveries"`
		// NextBefore asks for the next page (older deliveries); 0 when none is left.
		NextBefore int64 `json:"next_before"`
	}{Deliveries: log}
	if page.Deliveries == nil {
		page.Deliveries = []webhooks.Delivery{}
	}
	if limit == 0 {
		limit = webhooks.DefaultLogLimit
	}
	if n := len(log); n > 0 && n == limit {
		page.NextBefore = log[n-1].ID
	}
	writeJSON(w, http.StatusOK, page)
}

// webhookRequest reads a request of an endpoint's delivery log (its body
// into v unless nil) and authorizes it; ok is false once it has answered.
func (s *server) webhookRequest(w http.ResponseWriter, r *http.Request, v any) (wid string, ok bool) {
	_, err := readCommand(w, r, v)
	if err == nil {
		wid, err = s.webhookAdmin(r)
	}
	if err != nil {
		writeError(w, r, err)
		return "", false
	}
	return wid, true
}

func (s *server) redeliverWebhook(w http.ResponseWriter, r *http.Request) {
	wid, ok := s.webhookRequest(w, r, nil)
	if !ok {
		return
	}
	did, err := strconv.ParseInt(vars(r)["did"], 10, 64)
	if err != nil || did < 1 {
		writeError(w, r, domain.Errorf(domain.KindNotFound, domain.CodeWebhookDeliveryNotFound, "webhook endpoint %s has no delivery %q", wid, vars(r)["did"]))
		return
	}
	d, err := s.deliveries.Redeliver(r.Context(), wid, did)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, struct {
		Delivery webhooks.Delivery `json:"delivery"`
	}{d})
}

func (s *server) replayWebhook(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Since *time.Time `json:"since"`
	}
	wid, ok := s.webhookRequest(w, r, &body)
	if !ok {
		return
	}
	if body.Since == nil {
		writeError(w, r, domain.Errorf(domain.KindInvalid, domain.CodeInvalidRequest, "since is required: the moment (RFC 3339) to replay the endpoint's events from"))
		return
	}
	n, err := s.deliveries.Replay(r.Context(), wid, *body.Since)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, struct {
		Queued int64 `json:"queued"`
	}{n})
}
