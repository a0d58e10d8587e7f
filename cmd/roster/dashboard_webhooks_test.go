package main

import (
	"strings"
	"testing"
)

// TestDashboardWebhooks: an owner adds a webhook in the Webhooks tab, sees
// its secret once, disables it and deletes it.
func TestDashboardWebhooks(t *testing.T) {
	browserPass(t)
	b := startBrowser(t)
	_, base, _ := dashboardApp(t)
	artifacts := artifactDir(t)
	owner := newPerson(t, b, "owner", artifacts)
	owner.open(base + "/")
	owner.signIn(base, "hook-owner@example.com")
	owner.click("button", "New property")
	owner.waitFor("dialog", "New property")
	owner.fill("Property name", "Hooked")
	owner.click("button", "Create property")
	owner.until("the property opens", `document.querySelector('.property-name') !== null`)

	owner.click("tab", "Webhooks")
	if rows := owner.rows("webhooks"); len(rows) != 1 || !strings.Contains(rows[0][0], "No webhooks yet") {
		t.Errorf("a new property's webhooks: %v", rows)
	}
	owner.fill("URL", "https://hooks.example.com/roster")
	owner.fill("Description", "CRM")
	owner.click("button", "Add Webhook")
	owner.waitFor("dialog", "Webhook added")
	var secret string
	owner.eval(`document.querySelector('dialog code.secret').textContent`, &secret)
	if !strings.HasPrefix(secret, "whsec_") {
		t.Errorf("the dialog shows secret %q", secret)
	}
	owner.click("button", "Done")
	owner.until("the webhook is listed", `document.querySelector('#tab-panel tbody').innerText.includes('hooks.example.com')`)
	rows := owner.rows("webhooks")
	if len(rows) != 1 || !strings.Contains(rows[0][0], "https://hooks.example.com/roster") || rows[0][1] != "All events" || rows[0][2] != "Enabled" {
		t.Errorf("webhooks: %v", rows)
	}
	var page string
	owner.eval(`document.getElementById('view').innerText`, &page)
	if strings.Contains(page, secret) {
		t.Error("the secret is still shown once its dialog is closed")
	}

	owner.click("button", "Disable https://hooks.example.com/roster")
	owner.until("the webhook is disabled", `document.querySelector('#tab-panel tbody').innerText.includes('Disabled')`)
	owner.click("button", "Delete https://hooks.example.com/roster")
	owner.waitFor("dialog", "Delete this webhook?")
	owner.click("button", "Delete webhook")
	owner.until("the webhook is gone", `document.querySelector('#tab-panel tbody').innerText.includes('No webhooks yet')`)
	if p := owner.problems(); len(p) != 0 {
		t.Errorf("the page saw problems: %v", p)
	}
}
