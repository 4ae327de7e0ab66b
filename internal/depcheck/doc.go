// Package depcheck pins which of our packages may import which (its test
// reads the import graph with go list), so the flow webhook → bridge → queue →
// openshift and registry stays readable from the imports alone. It has no
// code outside its test.
package depcheck
