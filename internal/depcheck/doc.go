// Package depcheck pins which of our packages may import which (its test
// reads the import graph with go list), so the flow webhook → bridge → queue →
// openshift and registry stays readable from the imports alone, and keeps
// go.mod tidy (go mod tidy -diff, offline). It has no code outside its tests.
package depcheck
