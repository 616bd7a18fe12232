package replica

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// stderrLines is how many of a worker's last stderr lines its errors quote.
const stderrLines = 20

// maxLineBytes bounds one kept stderr line.
const maxLineBytes = 512

// proc is one worker process and the goroutines serving its pipes: a
// writer draining frames into stdin, a reader turning stdout frames into
// loop messages, and a collector keeping the stderr tail.
type proc struct {
	id     WorkerID
	cmd    *exec.Cmd
	frames chan []byte // to stdin; sends never block: the window bounds them
	closed bool        // frames closed (loop-owned)
	tail   *tail
}

func (p *proc) send(frame []byte) {
	if !p.closed {
		p.frames <- frame
	}
}

// closeInput lets the writer flush and close stdin: the worker sees EOF,
// finishes what it read and exits.
func (p *proc) closeInput() {
	if !p.closed {
		p.closed = true
		close(p.frames)
	}
}

func (p *proc) write(stdin io.WriteCloser) {
	var err error
	for f := range p.frames {
		if err == nil {
			_, err = stdin.Write(f)
		}
		// After a write error the worker is dead or dying; keep draining so
		// the loop never blocks, and let the reader report the exit.
	}
	stdin.Close()
}

// kill sends SIGKILL. os.Process refuses to signal a process it has
// already waited for, so a recycled pid is never hit.
func (p *proc) kill() { p.cmd.Process.Kill() }

// stop closes stdin, then escalates to SIGTERM and SIGKILL, grace apart,
// while the worker is still there.
func (p *proc) stop(grace time.Duration) {
	p.closeInput()
	time.AfterFunc(grace, func() {
		if terminate(p.cmd.Process) == nil {
			time.AfterFunc(grace, p.kill)
		}
	})
}

// read forwards the worker's frames to the loop until EOF (nil) or a
// protocol violation (its error).
func (p *proc) read(r io.Reader, maxSize int, inbox chan<- msg) error {
	f, err := ReadFrame(r, maxSize, nil)
	if errors.Is(err, io.EOF) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read hello: %w", err)
	}
	if f.Kind != KindHello {
		return fmt.Errorf("%w: first frame is %v, want hello", ErrProtocol, f.Kind)
	}
	h, err := DecodeHello(f.Body)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrMismatch, err)
	}
	inbox <- msg{ev: Event{Kind: EventReady, Worker: p.id}, hello: &h}
	buf := f.Body[:0]
	for {
		f, err := ReadFrame(r, maxSize, buf)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		buf = f.Body[:0]
		ev := Event{Kind: EventResult, Worker: p.id, Batch: BatchID(f.ID)}
		switch f.Kind {
		case KindLogits:
			l, err := DecodeLogits(f.Body)
			if err != nil {
				return err
			}
			inbox <- msg{ev: ev, logits: &l}
		case KindError:
			ev.Err = errors.New(string(f.Body))
			inbox <- msg{ev: ev}
		case KindPong:
			inbox <- msg{ev: Event{Kind: EventPong, Worker: p.id}}
		default:
			return fmt.Errorf("%w: unexpected %v frame", ErrProtocol, f.Kind)
		}
	}
}

// exitError describes the worker's end: exit status, the protocol error
// that made the supervisor kill it if any, and its last stderr lines.
func (p *proc) exitError(waitErr, protoErr error) error {
	status := "exit status 0"
	if waitErr != nil {
		status = waitErr.Error()
	}
	var stderr string
	if lines := p.tail.lines(); len(lines) > 0 {
		stderr = "; last stderr:\n\t" + strings.Join(lines, "\n\t")
	}
	if protoErr != nil {
		return fmt.Errorf("%w: %v (pid %d) killed for %w (%s)%s", ErrWorkerExited, p.id, p.cmd.Process.Pid, protoErr, status, stderr)
	}
	return fmt.Errorf("%w: %v (pid %d): %s%s", ErrWorkerExited, p.id, p.cmd.Process.Pid, status, stderr)
}

// tail keeps the last lines of a stream.
type tail struct {
	mu   sync.Mutex
	keep []string
	max  int
}

func newTail(n int) *tail { return &tail{max: n} }

func (t *tail) add(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(line) > maxLineBytes {
		line = line[:maxLineBytes] + "..."
	}
	if len(t.keep) == t.max {
		t.keep = append(t.keep[:0], t.keep[1:]...)
	}
	t.keep = append(t.keep, line)
}

func (t *tail) lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.keep...)
}

// collect reads r to EOF, keeping its lines and copying them, prefixed, to
// copyTo when it is not nil.
func (t *tail) collect(r io.Reader, copyTo io.Writer, prefix string) {
	br := bufio.NewReaderSize(r, 4096)
	for {
		chunk, err := br.ReadSlice('\n')
		if len(chunk) > 0 {
			line := strings.TrimRight(string(chunk), "\r\n")
			t.add(line)
			if copyTo != nil {
				io.WriteString(copyTo, prefix+line+"\n")
			}
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}
