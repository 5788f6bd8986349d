package githubhook

import (
	"errors"
	"testing"
)

func TestVerifyAgainstGitHubsPublishedTestVector(t *testing.T) {
	const vector = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	body := []byte("Hello, World!")
	if got := SignatureValue("It's a Secret to Everybody", body); got != vector {
		t.Fatalf("SignatureValue = %s", got)
	}
	cases := []struct {
		name    string
		secrets []string
		header  string
		want    error
	}{
		{"the secret", []string{"It's a Secret to Everybody"}, vector, nil},
		{"the secret after rotation", []string{"new secret", "It's a Secret to Everybody"}, vector, nil},
		{"another secret", []string{"It's a secret to everybody"}, vector, ErrBadSignature},
		{"no secret configured", nil, vector, ErrBadSignature},
		{"empty secrets are ignored", []string{""}, SignatureValue("", body), ErrBadSignature},
		{"no header", []string{"It's a Secret to Everybody"}, "", ErrNoSignature},
		{"sha1 prefix", []string{"It's a Secret to Everybody"}, "sha1=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", ErrBadSignature},
		{"not hex", []string{"It's a Secret to Everybody"}, "sha256=zz7107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", ErrBadSignature},
		{"truncated", []string{"It's a Secret to Everybody"}, vector[:40], ErrBadSignature},
		{"upper-case hex", []string{"It's a Secret to Everybody"}, "sha256=757107EA0EB2509FC211221CCE984B8A37570B6D7586C22C46F4379C8B043E17", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := NewVerifier(c.secrets...).Verify(c.header, body); !errors.Is(err, c.want) {
				t.Fatalf("Verify = %v, want %v", err, c.want)
			}
		})
	}
}
