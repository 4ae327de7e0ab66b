package emulator

import (
	"fmt"
	"os"
)

// WriteKubeconfig writes a kubeconfig that points client-go at an emulator serving at serverURL.
func WriteKubeconfig(serverURL, path string) error {
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: emulator
  cluster:
    server: %s
users:
- name: bridge
  user:
    token: emulator
contexts:
- name: emulator
  context: {cluster: emulator, user: bridge}
current-context: emulator
`, serverURL)
	if err := os.WriteFile(path, []byte(kc), 0o600); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	return nil
}
