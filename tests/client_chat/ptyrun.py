"""A program on a pseudo-terminal, driven like a person at the keyboard:
send keys, wait for text. Standard library only."""
import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import termios
import time


class Pty:
    def __init__(self, cmd, env, cols=200, rows=50):
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        # A session of its own with the terminal as its controlling one, so
        # Ctrl-C typed here is a SIGINT there, as in a real terminal.
        self.proc = subprocess.Popen(cmd, env=env, stdin=slave, stdout=slave, stderr=slave,
                                     start_new_session=True, close_fds=True,
                                     preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
        os.close(slave)
        self.fd = master
        self.buf = b""
        self.seen = 0  # expect() looks from here on

    def _read(self, timeout):
        r, _, _ = select.select([self.fd], [], [], timeout)
        if not r:
            return False
        try:
            data = os.read(self.fd, 65536)
        except OSError:
            return None
        if not data:
            return None
        self.buf += data
        return True

    def text(self):
        return self.buf.decode(errors="replace")

    def expect(self, pattern, timeout=30):
        """Waits until pattern (a regex) appears after the last match; returns
        the match, or None at timeout or end of output."""
        # latin-1 keeps one character per byte, so offsets are the buffer's
        # and groups come back as str.
        rx = re.compile(pattern)
        end = time.monotonic() + timeout
        while True:
            m = rx.search(self.buf.decode("latin-1"), self.seen)
            if m:
                self.seen = m.end()
                return m
            left = end - time.monotonic()
            if left <= 0:
                return None
            if self._read(left) is None:
                m = rx.search(self.buf.decode("latin-1"), self.seen)
                if m:
                    self.seen = m.end()
                return m

    def since(self, start):
        return self.buf[start:].decode(errors="replace")

    def wait_raw(self, timeout=5):
        """Waits until the program reads the terminal in raw mode (libedit
        inside readline). Keys sent before that race with its switch from
        cooked mode: the line discipline echoes them, and a Ctrl-D there is
        an end of file readline never sees. True when raw."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                if not termios.tcgetattr(self.fd)[3] & termios.ICANON:
                    return True
            except termios.error:
                return False
            self._read(0.01)
        return False

    def send(self, keys):
        os.write(self.fd, keys.encode() if isinstance(keys, str) else keys)

    def line(self, text):
        """Types text and Enter at a readline prompt."""
        self.wait_raw()
        self.send(text + "\r")

    def close(self, timeout=10):
        """Sends end of input (Ctrl-D), waits for the exit; returns the status."""
        try:
            self.wait_raw()
            self.send(b"\x04")
        except OSError:
            pass
        end = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < end:
            self._read(0.1)
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        while self._read(0.05):
            pass
        os.close(self.fd)
        return self.proc.returncode
