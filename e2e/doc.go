// Package e2e holds the end-to-end tests that run the hub's services
// together against a real in-process JetStream, the shared Odoo fake and
// httptest microservices.
package e2e
