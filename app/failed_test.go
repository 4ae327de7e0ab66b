package app

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/imagestream-bridge/imagestream-bridge/bridge"
)

// fillAll sets every field of the struct v points at, embedded structs
// included, to a distinct non-zero value, so a field added to bridge.Job or
// bridge.FailedJob is filled here without editing this file.
func fillAll(t *testing.T, v reflect.Value) {
	t.Helper()
	for i := range v.NumField() {
		f, sf := v.Field(i), v.Type().Field(i)
		switch {
		case sf.Anonymous:
			fillAll(t, f)
		case f.Type() == reflect.TypeFor[time.Time]():
			f.Set(reflect.ValueOf(time.Date(2026, 1, 2, 3, 4, 5, 6+i, time.UTC)))
		case f.Kind() == reflect.String:
			f.SetString(sf.Name + "-value")
		case f.Kind() == reflect.Uint64:
			f.SetUint(uint64(40 + i))
		case f.Kind() == reflect.Bool:
			f.SetBool(true)
		default:
			t.Fatalf("FailedJob.%s: a %s; teach fillAll to fill it", sf.Name, f.Type())
		}
	}
}

// TestFailedEventIsTheFailedJob: the admin endpoint answers a failed job
// with exactly the JSON of the domain's record (every field, in order), and
// the failed command, which decodes that record, gets back what was failed.
func TestFailedEventIsTheFailedJob(t *testing.T) {
	var f bridge.FailedJob
	fillAll(t, reflect.ValueOf(&f).Elem())
	want, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal(failedEvent(f))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("admin view of a failed job:\n%s\nthe failed job:\n%s", got, want)
	}
	var back bridge.FailedJob
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatal(err)
	}
	if back != f {
		t.Errorf("the failed command reads %+v, want %+v", back, f)
	}
}
