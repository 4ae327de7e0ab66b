package emulator

import (
	"net/http"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var leases = schema.GroupResource{Group: "coordination.k8s.io", Resource: "leases"}

// Lease returns a copy of a lease, or nil.
func (e *Emulator) Lease(ns, name string) *coordinationv1.Lease {
	e.mu.Lock()
	defer e.mu.Unlock()
	l, ok := e.leases[ns+"/"+name]
	if !ok {
		return nil
	}
	return l.DeepCopy()
}

func (e *Emulator) getLease(w http.ResponseWriter, r *http.Request) {
	l := e.Lease(r.PathValue("ns"), r.PathValue("name"))
	if l == nil {
		writeError(w, apierrors.NewNotFound(leases, r.PathValue("name")))
		return
	}
	writeJSON(w, http.StatusOK, l)
}

func (e *Emulator) createLease(w http.ResponseWriter, r *http.Request) {
	var l coordinationv1.Lease
	if err := decode(r, &l); err != nil {
		writeError(w, err)
		return
	}
	l.Namespace = r.PathValue("ns")
	e.mu.Lock()
	defer e.mu.Unlock()
	key := l.Namespace + "/" + l.Name
	if _, ok := e.leases[key]; ok {
		writeError(w, apierrors.NewAlreadyExists(leases, l.Name))
		return
	}
	l.TypeMeta = metav1.TypeMeta{Kind: "Lease", APIVersion: "coordination.k8s.io/v1"}
	l.ResourceVersion = e.nextRV()
	e.leases[key] = &l
	writeJSON(w, http.StatusCreated, &l)
}

// updateLease enforces optimistic concurrency: a stale resourceVersion is a 409.
func (e *Emulator) updateLease(w http.ResponseWriter, r *http.Request) {
	var l coordinationv1.Lease
	if err := decode(r, &l); err != nil {
		writeError(w, err)
		return
	}
	l.Namespace, l.Name = r.PathValue("ns"), r.PathValue("name")
	e.mu.Lock()
	defer e.mu.Unlock()
	key := l.Namespace + "/" + l.Name
	cur, ok := e.leases[key]
	if !ok {
		writeError(w, apierrors.NewNotFound(leases, l.Name))
		return
	}
	if l.ResourceVersion != cur.ResourceVersion {
		writeError(w, apierrors.NewConflict(leases, l.Name, errConflict))
		return
	}
	l.TypeMeta = metav1.TypeMeta{Kind: "Lease", APIVersion: "coordination.k8s.io/v1"}
	l.ResourceVersion = e.nextRV()
	e.leases[key] = &l
	writeJSON(w, http.StatusOK, &l)
}
