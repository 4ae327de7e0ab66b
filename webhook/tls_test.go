package webhook

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

// TestKeyPairReloads serves a renewed certificate without a restart and keeps
// the last good one when the files are broken mid-rotation. (The check
// interval itself is package reload's, tested there.)
func TestKeyPairReloads(t *testing.T) {
	dir := t.TempDir()
	writePair(t, dir, "first")
	kp, err := newKeyPair(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"), 0)
	if err != nil {
		t.Fatal(err)
	}
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
	if got := cn(); got != "renewed" {
		t.Errorf("after renewal cn %s, want renewed", got)
	}
	if err := os.WriteFile(filepath.Join(dir, "tls.key"), []byte("half-written"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := cn(); got != "renewed" {
		t.Errorf("broken files replaced the good pair: %s", got)
	}
	if _, err := newKeyPair(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"), 0); err == nil {
		t.Error("a broken pair loaded at start")
	}
}

func writePair(t *testing.T, dir, cn string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	kb, _ := x509.MarshalECPrivateKey(key)
	if err := os.WriteFile(filepath.Join(dir, "tls.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tls.key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
}
