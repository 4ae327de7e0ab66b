package registry

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/imagestream-bridge/imagestream-bridge/reload"
)

// authenticator picks basic credentials, a docker config.json entry, or anonymous.
func authenticator(r Config, host string) (authn.Authenticator, error) {
	switch {
	case r.Username != "" && r.PasswordFile != "":
		pass, err := reload.New(0, func() (string, error) {
			p, err := os.ReadFile(r.PasswordFile)
			if err != nil {
				return "", fmt.Errorf("read passwordFile: %w", err)
			}
			return strings.TrimSpace(string(p)), nil
		}, r.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("read passwordFile: %w", err)
		}
		return &basic{user: r.Username, pass: pass.Get}, nil
	case r.Username != "":
		return &basic{user: r.Username, pass: func() string { return r.Password }}, nil
	case r.DockerConfigFile != "":
		b, err := os.ReadFile(r.DockerConfigFile)
		if err != nil {
			return nil, fmt.Errorf("read dockerConfigFile: %w", err)
		}
		var f struct {
			Auths map[string]authn.AuthConfig `json:"auths"`
		}
		if err := json.Unmarshal(b, &f); err != nil {
			return nil, fmt.Errorf("decode dockerConfigFile: %w", err)
		}
		for _, key := range []string{host, "https://" + host, "http://" + host} {
			if a, ok := f.Auths[key]; ok {
				return authn.FromConfig(a), nil
			}
		}
		return nil, fmt.Errorf("dockerConfigFile has no credentials for %s", host)
	}
	return authn.Anonymous, nil
}

// basic is basic auth whose password is asked for on every token exchange:
// a password file's rotation takes effect without a restart.
type basic struct {
	user string
	pass func() string
}

func (b *basic) Authorization() (*authn.AuthConfig, error) {
	return &authn.AuthConfig{Username: b.user, Password: b.pass()}, nil
}
