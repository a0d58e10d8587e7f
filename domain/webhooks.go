package domain

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Webhook endpoints are part of a property's settings: its admins add, change,
// disable and delete them, and every change is an event of the property's
// stream, so it is in the audit trail. An endpoint's signing secret is never
// in an event: the event holds a nonce, and the secret is derived from it
// under a server key (section 6 of docs/ARCHITECTURE.md).

// Bounds of a webhook endpoint.
const (
	// MaxWebhooksPerProperty bounds the endpoints of one property, each of
	// which gets a copy of every event it asks for.
	MaxWebhooksPerProperty = 20
	// maxWebhookURL bounds an endpoint's URL.
	maxWebhookURL = 2000
	// maxWebhookDescription bounds an endpoint's description.
	maxWebhookDescription = 500
	// WebhookSecretGrace is how long the previous secret still signs after a
	// rotation, so a receiver can switch without missing a delivery.
	WebhookSecretGrace = 24 * time.Hour
	// WebhookAllEvents asks for every event type.
	WebhookAllEvents = "*"
)

// Why an endpoint was disabled.
const (
	// WebhookDisabledByAdmin: an admin disabled it.
	WebhookDisabledByAdmin = "admin"
	// WebhookDisabledFailing: its deliveries kept failing for the whole retry horizon.
	WebhookDisabledFailing = "failing"
)

// Codes of webhook endpoints.
const (
	CodeInvalidWebhookURL  = "invalid_webhook_url"
	CodeInvalidEventTypes  = "invalid_event_types"
	CodeWebhookNotFound    = "webhook_not_found"
	CodeTooManyWebhooks    = "too_many_webhooks"
	CodeInvalidDescription = "invalid_description"
	// CodeWebhookDeliveryNotFound: an endpoint's delivery log has no such delivery.
	CodeWebhookDeliveryNotFound = "webhook_delivery_not_found"
)

// WebhookEndpoint is one endpoint of a property, as its events left it.
type WebhookEndpoint struct {
	ID          string
	URL         string
	EventTypes  []string
	Description string
	Enabled     bool
	// DisabledReason is WebhookDisabledByAdmin or WebhookDisabledFailing
	// while the endpoint is disabled.
	DisabledReason string
	SecretNonce    string
	// PreviousNonce signs too until PreviousUntil, after a rotation.
	PreviousNonce string
	PreviousUntil time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// Wants reports whether the endpoint asks for events of the public type typ.
func (w *WebhookEndpoint) Wants(typ string) bool {
	return slices.Contains(w.EventTypes, WebhookAllEvents) || slices.Contains(w.EventTypes, typ)
}

// WebhookRules is what a decision on an endpoint's settings checks them
// against, beyond the property's state: the configuration's.
type WebhookRules struct {
	// KnownTypes are the public event types an endpoint may ask for.
	KnownTypes []string
	// AllowHTTP takes plain http:// URLs (development only).
	AllowHTTP bool
}

// WebhookSettings are the settings a client gives an endpoint. A nil field
// of an update is left as it is.
type WebhookSettings struct {
	URL         *string
	EventTypes  *[]string
	Description *string
}

// WebhooksInOrder returns the property's endpoints, oldest first.
func (p *Property) WebhooksInOrder() []*WebhookEndpoint {
	out := make([]*WebhookEndpoint, 0, len(p.Webhooks))
	for _, w := range p.Webhooks {
		out = append(out, w)
	}
	slices.SortFunc(out, func(a, b *WebhookEndpoint) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// ListWebhooks returns the endpoints to an actor who may administer the
// property's settings. Errors: those of authorization.
func (p *Property) ListWebhooks(actor Actor) ([]*WebhookEndpoint, error) {
	if err := p.authorize(actor, PermAdministrateSettings); err != nil {
		return nil, err
	}
	return p.WebhooksInOrder(), nil
}

// CreateWebhook adds an endpoint. Every setting must be given but the
// description. Errors: CodeInvalidWebhookURL, CodeInvalidEventTypes,
// CodeInvalidDescription, CodeTooManyWebhooks.
func (p *Property) CreateWebhook(actor Actor, id, nonce string, s WebhookSettings, rules WebhookRules) ([]Event, error) {
	if err := p.authorize(actor, PermAdministrateSettings); err != nil {
		return nil, err
	}
	if len(p.Webhooks) >= MaxWebhooksPerProperty {
		return nil, Errorf(KindConflict, CodeTooManyWebhooks, "property %s has %d webhook endpoints already, the most it may have", p.ID, MaxWebhooksPerProperty)
	}
	if s.URL == nil {
		return nil, Errorf(KindInvalid, CodeInvalidWebhookURL, "url is required")
	}
	if s.EventTypes == nil {
		all := []string{WebhookAllEvents}
		s.EventTypes = &all
	}
	url, types, desc, err := checkWebhookSettings(s, rules, &WebhookEndpoint{})
	if err != nil {
		return nil, err
	}
	return []Event{WebhookEndpointCreated{Schema: SchemaV1, EndpointID: id, URL: url, EventTypes: types,
		Description: desc, SecretNonce: nonce}}, nil
}

// UpdateWebhook changes an endpoint's settings; what is not given stays.
// Errors: CodeWebhookNotFound and those of CreateWebhook.
func (p *Property) UpdateWebhook(actor Actor, id string, s WebhookSettings, rules WebhookRules) ([]Event, error) {
	w, err := p.webhook(actor, id)
	if err != nil {
		return nil, err
	}
	url, types, desc, err := checkWebhookSettings(s, rules, w)
	if err != nil {
		return nil, err
	}
	if url == w.URL && slices.Equal(types, w.EventTypes) && desc == w.Description {
		return nil, nil
	}
	return []Event{WebhookEndpointUpdated{Schema: SchemaV1, EndpointID: id, URL: url, EventTypes: types, Description: desc}}, nil
}

// DisableWebhook stops an endpoint's deliveries until it is enabled again.
// Errors: CodeWebhookNotFound.
func (p *Property) DisableWebhook(actor Actor, id string) ([]Event, error) {
	w, err := p.webhook(actor, id)
	if err != nil {
		return nil, err
	}
	if !w.Enabled {
		return nil, nil
	}
	return []Event{WebhookEndpointDisabled{Schema: SchemaV1, EndpointID: id, Reason: WebhookDisabledByAdmin}}, nil
}

// DisableFailingWebhook is Roster's own decision, not an admin's: the
// endpoint's deliveries failed for the whole retry horizon. Its enabled
// admins are told, the owner first. An endpoint gone or disabled meanwhile
// is left as it is.
func (p *Property) DisableFailingWebhook(id string) []Event {
	if w := p.Webhooks[id]; w == nil || !w.Enabled {
		return nil
	}
	var admins []string
	for _, m := range p.Members {
		if m.Role == RoleAdmin && m.Status == StatusEnabled && m.AccountID != p.OwnerID {
			admins = append(admins, m.AccountID)
		}
	}
	slices.Sort(admins)
	if m := p.Members[p.OwnerID]; m != nil && m.Status == StatusEnabled {
		admins = append([]string{p.OwnerID}, admins...)
	}
	return []Event{WebhookEndpointDisabled{Schema: SchemaV1, EndpointID: id, Reason: WebhookDisabledFailing, Notified: admins}}
}

// EnableWebhook resumes a disabled endpoint's deliveries. Errors: CodeWebhookNotFound.
func (p *Property) EnableWebhook(actor Actor, id string) ([]Event, error) {
	w, err := p.webhook(actor, id)
	if err != nil {
		return nil, err
	}
	if w.Enabled {
		return nil, nil
	}
	return []Event{WebhookEndpointEnabled{Schema: SchemaV1, EndpointID: id}}, nil
}

// RotateWebhookSecret gives an endpoint a new secret; the current one keeps
// signing too for WebhookSecretGrace. Errors: CodeWebhookNotFound.
func (p *Property) RotateWebhookSecret(actor Actor, now time.Time, id, nonce string) ([]Event, error) {
	if _, err := p.webhook(actor, id); err != nil {
		return nil, err
	}
	return []Event{WebhookSecretRotated{Schema: SchemaV1, EndpointID: id, SecretNonce: nonce,
		PreviousValidUntil: now.Add(WebhookSecretGrace).UTC()}}, nil
}

// DeleteWebhook removes an endpoint; its deliveries stop. Errors: CodeWebhookNotFound.
func (p *Property) DeleteWebhook(actor Actor, id string) ([]Event, error) {
	if _, err := p.webhook(actor, id); err != nil {
		return nil, err
	}
	return []Event{WebhookEndpointDeleted{Schema: SchemaV1, EndpointID: id}}, nil
}

// webhook authorizes actor to administer the settings and finds endpoint id.
func (p *Property) webhook(actor Actor, id string) (*WebhookEndpoint, error) {
	if err := p.authorize(actor, PermAdministrateSettings); err != nil {
		return nil, err
	}
	w := p.Webhooks[id]
	if w == nil {
		return nil, Errorf(KindNotFound, CodeWebhookNotFound, "property %s has no webhook endpoint %q", p.ID, id)
	}
	return w, nil
}

// checkWebhookSettings returns the settings s gives, with those it leaves
// out taken from was, each normalised, or the first problem.
func checkWebhookSettings(s WebhookSettings, rules WebhookRules, was *WebhookEndpoint) (string, []string, string, error) {
	u, types, desc := was.URL, was.EventTypes, was.Description
	var err error
	if s.URL != nil {
		if u, err = checkWebhookURL(*s.URL, rules.AllowHTTP); err != nil {
			return "", nil, "", err
		}
	}
	if s.EventTypes != nil {
		if types, err = checkEventTypes(*s.EventTypes, rules.KnownTypes); err != nil {
			return "", nil, "", err
		}
	}
	if s.Description != nil {
		desc = strings.TrimSpace(*s.Description)
		if f, found := scanText(desc, controlRune); found {
			return "", nil, "", Errorf(KindInvalid, CodeInvalidDescription, "description holds %s", f)
		}
		if utf8.RuneCountInString(desc) > maxWebhookDescription {
			return "", nil, "", Errorf(KindInvalid, CodeInvalidDescription, "description is longer than %d characters", maxWebhookDescription)
		}
	}
	return u, types, desc, nil
}

// checkWebhookURL takes an absolute https URL (http too when allowHTTP) with
// a host and no user name, password or fragment: credentials in a URL
// would be in every event and audit row that shows it.
func checkWebhookURL(raw string, allowHTTP bool) (string, error) {
	bad := func(why string) error {
		return Errorf(KindInvalid, CodeInvalidWebhookURL, "url %s %s", quote(raw), why)
	}
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", Errorf(KindInvalid, CodeInvalidWebhookURL, "url is required")
	}
	if len(s) > maxWebhookURL {
		return "", bad(fmt.Sprintf("is longer than %d bytes", maxWebhookURL))
	}
	if f, found := scanText(s, controlRune); found {
		return "", bad("holds " + f.String())
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return "", bad("is not a URL")
	case u.Scheme != "https" && !(allowHTTP && u.Scheme == "http"):
		if allowHTTP {
			return "", bad("must start with https:// or http://")
		}
		return "", bad("must start with https://")
	case u.Host == "" || u.Hostname() == "":
		return "", bad("has no host")
	case u.User != nil:
		return "", bad("must not hold a user name or password")
	case u.Fragment != "" || strings.Contains(s, "#"):
		return "", bad("must not hold a fragment")
	}
	if port := u.Port(); port != "" {
		if _, err := net.LookupPort("tcp", port); err != nil {
			return "", bad("has a bad port")
		}
	}
	return u.String(), nil
}

// checkEventTypes takes a non-empty list of known public types, or "*"
// alone, and returns it sorted without repeats.
func checkEventTypes(in, known []string) ([]string, error) {
	out := make([]string, 0, len(in))
	for _, t := range in {
		t = strings.TrimSpace(t)
		if t != WebhookAllEvents && !slices.Contains(known, t) {
			k := slices.Clone(known)
			slices.Sort(k)
			return nil, Errorf(KindInvalid, CodeInvalidEventTypes, "event type %s is not one of %s, or %q for all",
				quote(t), strings.Join(k, ", "), WebhookAllEvents)
		}
		out = append(out, t)
	}
	slices.Sort(out)
	out = slices.Compact(out)
	switch {
	case len(out) == 0:
		return nil, Errorf(KindInvalid, CodeInvalidEventTypes, "event_types must name at least one event type, or %q for all", WebhookAllEvents)
	case len(out) > 1 && slices.Contains(out, WebhookAllEvents):
		return nil, Errorf(KindInvalid, CodeInvalidEventTypes, "event_types %q stands alone: it already means every type", WebhookAllEvents)
	}
	return out, nil
}

// applyWebhook folds an endpoint event into the state.
func (p *Property) applyWebhook(e Event, at time.Time) {
	switch e := e.(type) {
	case WebhookEndpointCreated:
		p.Webhooks[e.EndpointID] = &WebhookEndpoint{ID: e.EndpointID, URL: e.URL, EventTypes: e.EventTypes,
			Description: e.Description, Enabled: true, SecretNonce: e.SecretNonce, CreatedAt: at, UpdatedAt: at}
	case WebhookEndpointUpdated:
		if w := p.Webhooks[e.EndpointID]; w != nil {
			w.URL, w.EventTypes, w.Description, w.UpdatedAt = e.URL, e.EventTypes, e.Description, at
		}
	case WebhookEndpointDisabled:
		if w := p.Webhooks[e.EndpointID]; w != nil {
			w.Enabled, w.DisabledReason, w.UpdatedAt = false, e.Reason, at
		}
	case WebhookEndpointEnabled:
		if w := p.Webhooks[e.EndpointID]; w != nil {
			w.Enabled, w.DisabledReason, w.UpdatedAt = true, "", at
		}
	case WebhookSecretRotated:
		if w := p.Webhooks[e.EndpointID]; w != nil {
			w.PreviousNonce, w.PreviousUntil = w.SecretNonce, e.PreviousValidUntil
			w.SecretNonce, w.UpdatedAt = e.SecretNonce, at
		}
	case WebhookEndpointDeleted:
		delete(p.Webhooks, e.EndpointID)
	}
}
