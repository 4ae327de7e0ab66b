// Package e2e holds the end-to-end scenarios: a real distribution registry,
// the image-API emulator and the bridge run by app.Serve on loopback (one
// sandbox stack), driven through their public faces only. It has no code
// outside its tests.
package e2e
