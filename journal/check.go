package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
)

// checkFile walks the page tree of a bbolt file before bbolt opens it.
//
// Why: bbolt rebuilds its free list at open (the journal does not sync it) by
// walking every page in a goroutine of its own, and asserts on a page that
// is not what it should be. A panic in that goroutine cannot be recovered, so
// one damaged page would crash every start. This walk checks, in the
// caller's goroutine and without trusting any offset, what that assertion and
// the later reads rely on: every reachable page lies inside the file, names
// itself, is a branch or leaf page, is reached once, and its elements lie
// inside it. It reads the bbolt v2 layout (little-endian), documented in
// go.etcd.io/bbolt/internal/common.
func checkFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil || len(data) == 0 {
		return nil // bbolt reports unreadable files and initialises empty ones
	}
	m, ok := pickMeta(data)
	if !ok {
		return nil // no valid meta page: bbolt returns ErrInvalid or ErrChecksum itself
	}
	w := &walker{data: data, ps: uint64(m.pageSize), hw: m.highWater, seen: map[uint64]bool{}}
	if uint64(len(data)) < m.highWater*w.ps {
		return fmt.Errorf("file is %d bytes, its pages need %d", len(data), m.highWater*w.ps)
	}
	return w.page(m.root, 0)
}

type metaInfo struct {
	pageSize        uint32
	root, highWater uint64
	txid            uint64
}

const (
	bboltMagic   = 0xED0CDAED
	pageHeader   = 16
	elemSize     = 16
	branchFlag   = 0x01
	leafFlag     = 0x02
	bucketLeaf   = 0x01
	bucketHeader = 16
	maxDepth     = 64
)

// pickMeta returns the valid meta page with the highest transaction id, as bbolt does.
func pickMeta(data []byte) (metaInfo, bool) {
	var best metaInfo
	found := false
	for _, off := range []int{0, -1} {
		if off < 0 { // the second meta page is at the page size the first one names, or 4096
			off = 4096
			if found {
				off = int(best.pageSize)
			}
		}
		if len(data) < off+pageHeader+64 {
			continue
		}
		b := data[off+pageHeader : off+pageHeader+64]
		le := binary.LittleEndian
		h := fnv.New64a()
		h.Write(b[:56])
		if le.Uint32(b[0:]) != bboltMagic || le.Uint32(b[4:]) != 2 || le.Uint64(b[56:]) != h.Sum64() {
			continue
		}
		m := metaInfo{pageSize: le.Uint32(b[8:]), root: le.Uint64(b[16:]), highWater: le.Uint64(b[40:]), txid: le.Uint64(b[48:])}
		if m.pageSize < 512 || m.pageSize > 1<<20 {
			continue
		}
		if !found || m.txid > best.txid {
			best, found = m, true
		}
	}
	return best, found
}

type walker struct {
	data   []byte
	ps, hw uint64
	seen   map[uint64]bool
}

var errBadPage = errors.New("damaged page")

func (w *walker) page(id uint64, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("%w: tree deeper than %d at page %d", errBadPage, maxDepth, id)
	}
	if id < 2 || id >= w.hw {
		return fmt.Errorf("%w: reference to page %d outside 2..%d", errBadPage, id, w.hw)
	}
	if w.seen[id] {
		return fmt.Errorf("%w: page %d is reached twice", errBadPage, id)
	}
	w.seen[id] = true
	start := id * w.ps
	p := w.data[start : start+w.ps]
	if got := binary.LittleEndian.Uint64(p); got != id {
		return fmt.Errorf("%w: page %d names itself %d", errBadPage, id, got)
	}
	overflow := uint64(binary.LittleEndian.Uint32(p[12:]))
	if id+overflow >= w.hw {
		return fmt.Errorf("%w: page %d overflows past the end", errBadPage, id)
	}
	return w.node(w.data[start:start+(1+overflow)*w.ps], fmt.Sprint("page ", id), depth)
}

// node checks a branch or leaf page (or an inline bucket's page) held in p.
func (w *walker) node(p []byte, where string, depth int) error {
	if len(p) < pageHeader {
		return fmt.Errorf("%w: %s is too short", errBadPage, where)
	}
	le := binary.LittleEndian
	flags, count := le.Uint16(p[8:]), int(le.Uint16(p[10:]))
	if flags != branchFlag && flags != leafFlag {
		return fmt.Errorf("%w: %s has flags %#x, want a branch or leaf page", errBadPage, where, flags)
	}
	if pageHeader+count*elemSize > len(p) {
		return fmt.Errorf("%w: %s has %d elements, more than fit", errBadPage, where, count)
	}
	for i := range count {
		at := pageHeader + i*elemSize
		e := p[at : at+elemSize]
		if flags == branchFlag {
			pos, ksize := int(le.Uint32(e[0:])), int(le.Uint32(e[4:]))
			if at+pos+ksize > len(p) {
				return fmt.Errorf("%w: %s element %d points outside it", errBadPage, where, i)
			}
			if err := w.page(le.Uint64(e[8:]), depth+1); err != nil {
				return err
			}
			continue
		}
		eflags, pos, ksize, vsize := le.Uint32(e[0:]), int(le.Uint32(e[4:])), int(le.Uint32(e[8:])), int(le.Uint32(e[12:]))
		if pos < 0 || ksize < 0 || vsize < 0 || at+pos+ksize+vsize > len(p) {
			return fmt.Errorf("%w: %s element %d points outside it", errBadPage, where, i)
		}
		if eflags&bucketLeaf == 0 {
			continue
		}
		v := p[at+pos+ksize : at+pos+ksize+vsize]
		if len(v) < bucketHeader {
			return fmt.Errorf("%w: %s element %d is a bucket without a header", errBadPage, where, i)
		}
		if root := le.Uint64(v); root != 0 {
			if err := w.page(root, depth+1); err != nil {
				return err
			}
		} else if err := w.node(v[bucketHeader:], where+" inline bucket", depth+1); err != nil {
			return err
		}
	}
	return nil
}
