package bridge

// Drop removes failed events for good; empty seqs means all. It returns how
// many were removed.
//
// Placeholder: the journal's Drop lands with the bridge engineer's change,
// which replaces this file.
func (b *Bridge) Drop(seqs []uint64) (int, error) {
	return 0, &Error{Kind: KindUnavailable, Message: "drop failed events: not implemented yet"}
}
