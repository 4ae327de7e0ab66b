package registry

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/imagestream-bridge/imagestream-bridge/config"
)

// authenticator picks basic credentials, a docker config.json entry, or anonymous.
func authenticator(r config.Registry, host string) (authn.Authenticator, error) {
	switch {
	case r.Username != "":
		return &fileBasic{user: r.Username, pass: r.Password, file: r.PasswordFile}, nil
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

// fileBasic is basic auth whose password is re-read from its file on every
// token exchange, so a rotated Secret takes effect without a restart.
type fileBasic struct{ user, pass, file string }

func (b *fileBasic) Authorization() (*authn.AuthConfig, error) {
	pass := b.pass
	if b.file != "" {
		p, err := os.ReadFile(b.file)
		if err != nil {
			return nil, fmt.Errorf("read passwordFile: %w", err)
		}
		pass = strings.TrimSpace(string(p))
	}
	return &authn.AuthConfig{Username: b.user, Password: pass}, nil
}
