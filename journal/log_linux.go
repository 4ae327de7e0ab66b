package journal

import (
	"os"
	"syscall"
)

// fdatasync flushes f's data (and its size), not its other metadata.
func fdatasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}

// lockDir takes an exclusive lock on the open directory, without waiting.
func lockDir(d *os.File) error { return syscall.Flock(int(d.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) }
