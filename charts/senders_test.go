package charts

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/imagestream-bridge/imagestream-bridge/webhook/sender"
)

// TestNotesPerSender: NOTES.txt prints, for each registry, the setup of its
// sender, with the URL (and the path token for Quay) the webhook serves.
func TestNotesPerSender(t *testing.T) {
	m := render(t, `
config:
  registries:
    - {name: dist, url: 'http://r:5000'}
    - {name: hb, url: 'http://r:5000', sender: harbor}
    - {name: qy, url: 'http://r:5000', sender: quay}
    - {name: jf, url: 'http://r:5000', sender: artifactory}
    - {name: az, url: 'http://r:5000', sender: acr}
`)
	base := "http://" + fullname + "." + releaseNS + ".svc:8080/notifications/"
	for _, want := range []string{
		`# registry "dist" (sender: distribution)`, "url: " + base + "dist\n", "Authorization: [Bearer TOKEN]",
		`# registry "hb" (sender: harbor)`, "Endpoint URL: " + base + "hb\n", "Auth Header: Bearer TOKEN",
		`# registry "qy" (sender: quay)`, "Webhook URL: " + base + "qy/TOKEN\n",
		`# registry "jf" (sender: artifactory)`, "handler url: " + base + "jf\n", "use_secret_for_signing: true",
		`# registry "az" (sender: acr)`, "--uri " + base + "az --headers \"Authorization=Bearer TOKEN\"", "az acr webhook ping",
	} {
		if !strings.Contains(m.notes, want) {
			t.Errorf("NOTES.txt lacks %q:\n%s", want, m.notes)
		}
	}
	if testing.Verbose() {
		t.Log(m.notes)
	}
	if n := strings.Count(m.notes, "notifications:\n  events:"); n != 1 {
		t.Errorf("distribution config.yml snippet printed %d times, want once (for dist only)", n)
	}
	cfg := renderedConfig(t, m)
	for i, want := range []string{"", "harbor", "quay", "artifactory", "acr"} {
		if cfg.Registries[i].Sender != want && !(want == "" && cfg.Registries[i].Sender == "distribution") {
			t.Errorf("registries[%d].sender = %q, want %q", i, cfg.Registries[i].Sender, want)
		}
	}
}

// TestSchemaSenders: the schema's sender enum is the bridge's list of senders.
func TestSchemaSenders(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(chartDir, "values.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Properties struct {
			Config struct {
				Properties struct {
					Registries struct {
						Items struct {
							Properties struct {
								Sender struct {
									Enum []string `json:"enum"`
								} `json:"sender"`
							} `json:"properties"`
						} `json:"items"`
					} `json:"registries"`
				} `json:"properties"`
			} `json:"config"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, k := range sender.Kinds() {
		want = append(want, string(k))
	}
	if got := s.Properties.Config.Properties.Registries.Items.Properties.Sender.Enum; !slices.Equal(got, want) {
		t.Errorf("schema sender enum %v, want %v", got, want)
	}
}
