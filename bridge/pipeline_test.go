package bridge

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestBackoffIsCappedAndJittered(t *testing.T) {
	p := &Pipeline{initial: 100 * time.Millisecond, max: time.Second}
	for attempt := 1; attempt <= 20; attempt++ {
		want := min(100*time.Millisecond<<(attempt-1), time.Second)
		if attempt > 10 {
			want = time.Second
		}
		for range 50 {
			d := p.backoff(attempt, 0)
			if d < want/2 || d > want {
				t.Fatalf("attempt %d: backoff %s outside [%s, %s]", attempt, d, want/2, want)
			}
		}
	}
	if d := p.backoff(1, 5*time.Second); d != 5*time.Second {
		t.Errorf("Retry-After not honoured: %s", d)
	}
}

func writePair(t *testing.T, dir, cn string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	kb, _ := x509.MarshalECPrivateKey(key)
	os.WriteFile(filepath.Join(dir, "tls.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(filepath.Join(dir, "tls.key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
}

// TestKeyPairReloads serves a renewed certificate without a restart and keeps
// the last good one when the files are broken mid-rotation.
func TestKeyPairReloads(t *testing.T) {
	dir := t.TempDir()
	writePair(t, dir, "first")
	kp := &keyPair{cert: filepath.Join(dir, "tls.crt"), key: filepath.Join(dir, "tls.key")}
	cn := func() string {
		c, err := kp.get(nil)
		if err != nil {
			t.Fatal(err)
		}
		leaf, _ := x509.ParseCertificate(c.Certificate[0])
		return leaf.Subject.CommonName
	}
	if got := cn(); got != "first" {
		t.Fatalf("cn %s", got)
	}
	time.Sleep(10 * time.Millisecond)
	writePair(t, dir, "renewed")
	if got := cn(); got != "first" {
		t.Errorf("reloaded before the check interval: %s", got)
	}
	kp.checked = time.Time{} // the interval passed
	if got := cn(); got != "renewed" {
		t.Errorf("after renewal cn %s, want renewed", got)
	}
	os.WriteFile(filepath.Join(dir, "tls.key"), []byte("half-written"), 0o600)
	kp.checked = time.Time{}
	if got := cn(); got != "renewed" {
		t.Errorf("broken files replaced the good pair: %s", got)
	}
}
