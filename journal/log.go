package journal

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
)

// journal.log is an 8-byte header followed by records: a 4-byte magic, the
// payload's length and its CRC-32C (little-endian), then the payload, a JSON
// entry. Each entry is what one operation of the store changed.
const (
	logFile        = "journal.log"
	quarantineFile = "journal.log.quarantine"
	logHeader      = "ISBJLOG1"
	recMagic       = 0x01d7524a
	recHeaderLen   = 12
	maxRecordLen   = 256 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// entry is one record, applied in field order.
type entry struct {
	Next   uint64   `json:"n,omitempty"` // the last seq assigned is at least this
	Done   []uint64 `json:"d,omitempty"` // pending jobs applied
	Unfail []uint64 `json:"u,omitempty"` // failed entries replayed or dropped
	Fail   []Failed `json:"f,omitempty"` // jobs moved to the failed list
	Jobs   []*Job   `json:"a,omitempty"` // jobs added to pending
}

// appendRecord frames payload as one record.
func appendRecord(buf, payload []byte) []byte {
	var h [recHeaderLen]byte
	binary.LittleEndian.PutUint32(h[0:], recMagic)
	binary.LittleEndian.PutUint32(h[4:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(h[8:], crc32.Checksum(payload, castagnoli))
	return append(append(buf, h[:]...), payload...)
}

// completeFrame is the length of the record at the start of data when its
// header is intact and all its bytes are there (its checksum not checked), or 0.
func completeFrame(data []byte) int {
	if len(data) < recHeaderLen || binary.LittleEndian.Uint32(data) != recMagic {
		return 0
	}
	l := binary.LittleEndian.Uint32(data[4:])
	if l > maxRecordLen || uint64(len(data)-recHeaderLen) < uint64(l) {
		return 0
	}
	return recHeaderLen + int(l)
}

// frameAt returns the payload of the record at the start of data and the
// record's length, or ok false when no whole, intact record starts there.
func frameAt(data []byte) (payload []byte, n int, ok bool) {
	n = completeFrame(data)
	if n == 0 {
		return nil, 0, false
	}
	payload = data[recHeaderLen:n]
	return payload, n, crc32.Checksum(payload, castagnoli) == binary.LittleEndian.Uint32(data[8:])
}

// nextFrame is the offset of the first intact record at or after from, or -1.
func nextFrame(data []byte, from int) int {
	var m [4]byte
	binary.LittleEndian.PutUint32(m[:], recMagic)
	for from < len(data) {
		i := bytes.Index(data[from:], m[:])
		if i < 0 {
			return -1
		}
		if _, _, ok := frameAt(data[from+i:]); ok {
			return from + i
		}
		from += i + 1
	}
	return -1
}

func decodeEntry(payload []byte) (entry, error) {
	var e entry
	if err := json.Unmarshal(payload, &e); err != nil {
		return e, err
	}
	for _, j := range e.Jobs {
		if j == nil || j.Seq == 0 {
			return e, errors.New("a job without a sequence number")
		}
	}
	return e, nil
}

// apply changes the state as the entry e says.
func (s *state) apply(e *entry) {
	s.next = max(s.next, e.Next)
	for _, seq := range e.Done {
		delete(s.jobs, seq)
	}
	for _, seq := range e.Unfail {
		s.failed.remove(seq)
	}
	for _, f := range e.Fail {
		delete(s.jobs, f.Seq)
		s.failed.put(f)
		s.next = max(s.next, f.Seq)
	}
	for _, j := range e.Jobs {
		s.jobs[j.Seq] = j
		s.next = max(s.next, j.Seq)
	}
}

// readLog applies every record of the log at path, if there.
func (s *state) readLog(path string) error {
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("read journal %s: %w", path, err)
	case len(data) == 0:
		s.log.Error("journal: the journal file is EMPTY (0 bytes): the events it held are lost; resync repairs the tags", "file", path)
		return nil
	case len(data) < len(logHeader) || string(data[:len(logHeader)]) != logHeader:
		return damaged(path, errors.New("the file does not start with the journal header"))
	}
	for off := len(logHeader); off < len(data); {
		payload, n, ok := frameAt(data[off:])
		if !ok {
			next := nextFrame(data, off+1)
			if next < 0 {
				if full := completeFrame(data[off:]); full > 0 {
					// At its full length a bad checksum is damage, not a torn write.
					if err := s.quarantine(path, data[off:off+full], off, errors.New("the last record, complete, fails its checksum")); err != nil {
						return err
					}
					off += full
					continue
				}
				s.log.Info("journal: ignored a torn record at the end of the journal (a crash while it was written; it was never acknowledged)",
					"file", path, "offset", off, "bytes", len(data)-off)
				return nil
			}
			if err := s.quarantine(path, data[off:next], off, errors.New("a record cut short or failing its checksum, followed by good ones")); err != nil {
				return err
			}
			off = next
			continue
		}
		e, err := decodeEntry(payload)
		if err != nil {
			if err := s.quarantine(path, data[off:off+n], off, err); err != nil {
				return err
			}
		} else {
			s.apply(&e)
		}
		off += n
	}
	return nil
}

// quarantine appends damaged bytes of the log at path, framed, to the
// quarantine file beside it and syncs it.
func (s *state) quarantine(path string, b []byte, off int, cause error) error {
	q := filepath.Join(filepath.Dir(path), quarantineFile)
	f, err := os.OpenFile(q, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open %s: %w", q, err)
	}
	defer f.Close()
	if _, err := f.Write(appendRecord(nil, b)); err != nil {
		return fmt.Errorf("write %s: %w", q, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", q, err)
	}
	s.log.Error("journal: a damaged record was moved to quarantine; the rest proceeds",
		"file", path, "offset", off, "bytes", len(b), "quarantine", q, "err", cause)
	return nil
}
