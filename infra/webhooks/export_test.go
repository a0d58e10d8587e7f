package webhooks

// AllowedAddress exposes allowedAddress to the tests.
var AllowedAddress = allowedAddress
