"""A realtime scsynth owned by a trio task: start, handshake, watch, restart, stop.

Hits go out as time-stamped bundles with ``send``, which never blocks or raises: a drum machine
must keep its clock running while the server restarts after a crash, so packets are dropped then.
Replies (``/status.reply``, ``/done``, ``/synced``, ``/n_end``, ``/fail``, the mixer's ``/meter``)
come back on our own UDP socket, which outlives the server processes; only datagrams from the
server's port count, and their arguments are checked before use.

scsynth runs as the performer and takes commands from any local process, so its file commands
are fenced in with ``-P`` to ``files`` (``<data dir>/scsynth``, apart from the sessions): a
``/b_write`` elsewhere fails. SynthDefs therefore go over OSC (``/d_recv``), not ``/d_loadDir``,
and ``record`` writes inside ``files`` and moves the file where it was asked for.
"""

from __future__ import annotations

import itertools
import logging
import os
import shutil
import socket
import struct
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path

import trio

from gridtonic.io import child, osc, store
from gridtonic.io.tasks import Dropped
from gridtonic.sound import mixer, synthdefs

log = logging.getLogger(__name__)

INSTALL_HINT = "apt-get install --no-install-recommends supercollider-server sc3-plugins-server"
REC_BUF = 1023  # last of scsynth's default 1024 buffers
REC_NODE = 2**31 - 2  # far above the voice allocator's ids
# bytes of /d_recv before a /sync: well inside a UDP receive buffer (208 KiB, which the kernel counts
# with each datagram's overhead: sixteen 8 KB defs could fill it)
DEFS_IN_FLIGHT = 32768
DEF_ATTEMPTS = 3  # times the defs are sent while scsynth counts fewer
STATUS = ("ugens", "synths", "groups", "defs", "avg_cpu", "peak_cpu", "nominal_sr", "actual_sr")

KR, AR = 1, 2  # UGen calculation rates (control, audio)
Input = float | tuple[int, int]  # a constant, or (ugen index, output index)


class ScsynthError(RuntimeError):
    pass


def synthdef(
    name: str, params: dict[str, float], ugens: Sequence[tuple[str, int, Sequence[Input], int]]
) -> bytes:
    """SCgf v2 bytes of one SynthDef, for ``/d_recv`` without sclang.

    ``ugens`` are (class name, rate, inputs, number of outputs at that rate). The parameters become
    a Control UGen at index 0, so parameter i is input (0, i) and ``ugens`` count from 1.
    """

    def pstr(s: str) -> bytes:
        return bytes([len(s)]) + s.encode()

    graph = [("Control", KR, [], len(params))] if params else []
    graph += ugens
    consts = list(dict.fromkeys(float(i) for _, _, ins, _ in graph for i in ins if not isinstance(i, tuple)))
    out = [b"SCgf", struct.pack(">ih", 2, 1), pstr(name), struct.pack(">i", len(consts))]
    out += [struct.pack(">f", c) for c in consts]
    out.append(struct.pack(">i", len(params)) + b"".join(struct.pack(">f", v) for v in params.values()))
    out.append(struct.pack(">i", len(params)))
    out += [pstr(p) + struct.pack(">i", i) for i, p in enumerate(params)]
    out.append(struct.pack(">i", len(graph)))
    for cls, rate, ins, n_out in graph:
        out.append(pstr(cls) + struct.pack(">biih", rate, len(ins), n_out, 0))
        for i in ins:
            src = i if isinstance(i, tuple) else (-1, consts.index(float(i)))
            out.append(struct.pack(">ii", *src))
        out.append(bytes([rate]) * n_out)
    out.append(struct.pack(">h", 0))  # no variants
    return b"".join(out)


# DiskOut.ar(buf, In.ar(0, 2)): writes the two main outputs into a buffer opened with /b_write.
RECORDER = synthdef(
    "gridtonic_rec", {"buf": 0.0}, [("In", AR, [0.0], 2), ("DiskOut", AR, [(0, 0), (1, 0), (1, 1)], 1)]
)


class Scsynth:
    """One scsynth on ``127.0.0.1:port``, kept alive by ``run`` until that task is cancelled."""

    def __init__(
        self,
        port: int = 57110,
        synthdef_dir: str | os.PathLike | None = None,
        client_name: str = "gridtonic",
        jack_server: str | None = None,
        on_end: Callable[[int], None] | None = None,
        executable: str = "scsynth",
        max_restarts: int = 5,
        boot_timeout: float = 10.0,
        files: str | os.PathLike | None = None,
        setup: Callable[[], list[bytes]] = synthdefs.setup_messages,
    ):
        self.port = port
        self.synthdef_dir = synthdef_dir
        self.client_name = client_name
        self.jack_server = jack_server
        self.on_end = on_end  # called with the node id of each /n_end, e.g. Voicer.ended
        self.executable = executable
        self.max_restarts = max_restarts  # consecutive failed restarts before giving up
        self.boot_timeout = boot_timeout
        self.files = Path(files) if files is not None else store.data_dir() / "scsynth"  # -P
        self.setup = setup  # the engine's persistent nodes, sent at every (re)start: voice group, mixer
        self.meters = mixer.Meters()  # the mixer's latest levels (output only)
        self.pid: int | None = None
        self.up = False  # handshake done and process alive: send() delivers
        self._sock: trio.socket.SocketType | None = None
        self._raw: socket.socket | None = None
        self._waiting: list[tuple[str, tuple, trio.MemorySendChannel]] = []
        self._sync_ids = itertools.count(1)
        self._started = False
        self._rec_frames = 0
        self._rec_path: Path | None = None  # where stop_recording moves the recording
        self.dropped = Dropped(log, "scsynth's reply port")  # datagrams not from scsynth, or malformed
        self.failed = Dropped(log, "scsynth's reply port")  # replies a handler raised on (a bug)

    @property
    def local_address(self) -> tuple[str, int]:
        """Where scsynth's replies arrive (our UDP socket)."""
        assert self._raw is not None, "Scsynth.run has not started"
        return self._raw.getsockname()

    def command(self) -> list[str]:
        """scsynth's command line: realtime on JACK, 2 outputs, no inputs, no Zeroconf, files only
        inside ``files`` (the trailing slash: scsynth compares the prefix as a string)."""
        device = f"{self.jack_server}:{self.client_name}" if self.jack_server else self.client_name
        return [self.executable, "-u", str(self.port), "-B", "127.0.0.1", "-i", "0", "-o", "2",
                "-R", "0", "-l", "4", "-H", device,
                "-P", os.path.join(os.path.abspath(self.files), "")]  # fmt: skip

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Start scsynth, report started after the handshake, restart it whenever it dies."""
        if not shutil.which(self.executable):
            raise ScsynthError(f"{self.executable} not found; install it with: {INSTALL_HINT}")
        if self.client_name == (self.jack_server or os.environ.get("JACK_DEFAULT_SERVER")):
            # libjack names the client's socket like the server's and unlinks it on close.
            raise ScsynthError(f"JACK client name {self.client_name!r} must differ from the server name")
        self._started = False
        self.files.mkdir(parents=True, exist_ok=True)
        self._raw = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock = trio.socket.from_stdlib_socket(self._raw)
        with self._sock:
            await self._sock.bind(("127.0.0.1", 0))
            try:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._receive)
                    await self._supervise(nursery, task_status)
            except BaseExceptionGroup as group:  # surface our one-line error, not a nested group
                if len(group.exceptions) == 1 and isinstance(group.exceptions[0], ScsynthError):
                    raise group.exceptions[0] from None
                raise

    async def _supervise(self, nursery: trio.Nursery, task_status: trio.TaskStatus[None]) -> None:
        failures = 0
        while True:
            try:
                await self._serve_once(nursery, task_status)
                failures = 0
            except ScsynthError as e:
                if not self._started or failures >= self.max_restarts:
                    raise
                failures += 1
                log.warning("scsynth restart failed: %s", e)
            delay = min(0.1 * 2**failures, 5.0)
            log.warning("restarting scsynth on port %d in %.1f s", self.port, delay)
            await trio.sleep(delay)

    async def _serve_once(self, nursery: trio.Nursery, task_status: trio.TaskStatus[None]) -> None:
        """One scsynth process from start to exit; raises ScsynthError if it never came up."""
        await _check_port_free(self.port)
        proc = child.spawn(self.command(), env={**os.environ, "JACK_NO_START_SERVER": "1"})
        self.pid = proc.pid
        output = _Output()
        try:
            nursery.start_soon(output.read, proc)
            await self._handshake(proc, output)
            self.up = True
            log.info("scsynth up (pid %d, port %d)", proc.pid, self.port)
            if not self._started:
                self._started = True
                task_status.started()
            await proc.wait()
            await output.finished()
            log.error("scsynth (pid %d) exited with %s: %s", proc.pid, proc.returncode, output.last(8))
        finally:
            self.up = False
            self.pid = None
            self.meters.clear()
            with trio.CancelScope(shield=True):
                await self._stop(proc)

    async def _handshake(self, proc: child.Child, output: _Output) -> None:
        with trio.move_on_after(self.boot_timeout) as scope:
            while proc.poll() is None:
                with trio.move_on_after(0.1):
                    await self._request(osc.message("/status"), "/status.reply")
                    break
        if proc.returncode is not None:
            await output.finished()  # the reason is in its last lines
            if "could not initialize audio" in output.last(8):
                raise ScsynthError("scsynth could not connect to JACK: is jackd running? (gridtonic.io.jack)")
            raise ScsynthError(f"scsynth exited with {proc.returncode} while starting: {output.last(3)}")
        if scope.cancelled_caught:
            raise ScsynthError(f"scsynth on port {self.port} did not answer within {self.boot_timeout} s")
        await self._ask(osc.message("/notify", 1), "/done", "/notify")
        if self.synthdef_dir is not None:
            await self._load_defs(Path(self.synthdef_dir))
        for message in self.setup():  # voice group 1, the mixer and the global lowpass
            self._send_raw(message)
        await self._sync()

    async def _load_defs(self, folder: Path) -> None:
        """Every ``*.scsyndef`` in ``folder`` over OSC (``-P`` keeps ``/d_loadDir`` out of it), all
        loaded on return (``/d_recv`` completes asynchronously, like ``/d_loadDir``). UDP may drop
        some on a busy machine (a full suite lost 4 of 1014 once): scsynth's count is checked and
        the lot sent again (a def sent twice replaces itself); still short, it plays without them."""
        paths = sorted(folder.glob("*.scsyndef"))
        for attempt in range(DEF_ATTEMPTS):
            in_flight = 0
            for path in paths:
                message = osc.message("/d_recv", path.read_bytes())
                self._send_raw(message)
                in_flight += len(message)
                if in_flight > DEFS_IN_FLIGHT:
                    await self._sync()
                    in_flight = 0
            await self._sync()
            loaded = (await self._counts())["defs"]
            if loaded >= len(paths):
                return
            then = "sending them again" if attempt + 1 < DEF_ATTEMPTS else "some voices are silent"
            log.warning("scsynth has %d of the %d SynthDefs in %s (datagrams lost): %s", loaded, len(paths),
                        folder, then)

    async def _stop(self, proc: child.Child, grace: float = 2.0) -> None:
        """Ask politely with /quit, then SIGTERM, then SIGKILL; always by this process's PID."""
        if proc.returncode is None:
            self._send_raw(osc.message("/quit"))
        for signal in (None, proc.terminate, proc.kill):
            if signal is not None and proc.returncode is None:
                signal()
            with trio.move_on_after(grace):
                await proc.wait()
                return

    def send(self, packet: bytes) -> None:
        """Send a message or bundle without blocking; dropped (debug log) while the server is down."""
        if not self.up:
            log.debug("scsynth down: dropped a %d-byte packet", len(packet))
            return
        self._send_raw(packet)

    def _send_raw(self, packet: bytes) -> None:
        try:
            self._raw.sendto(packet, ("127.0.0.1", self.port))
        except OSError as e:  # full buffer or no server: UDP may lose packets anyway
            log.debug("send to scsynth failed: %s", e)

    async def status(self, timeout: float = 2.0) -> dict[str, float]:
        """Load and counts from ``/status.reply``."""
        self._check_up()
        return await self._counts(timeout)

    async def _counts(self, timeout: float = 2.0) -> dict[str, float]:
        args = await self._ask(osc.message("/status"), "/status.reply", timeout=timeout)
        try:
            osc.check(args[1:], *[float] * len(STATUS))
        except osc.BadMessage as e:
            raise ScsynthError(f"scsynth's /status.reply {args!r:.200}: {e}") from None
        return dict(zip(STATUS, args[1:], strict=False))

    async def sync(self, timeout: float = 5.0) -> None:
        """Wait until scsynth has processed everything sent before (including async commands)."""
        self._check_up()
        await self._sync(timeout)

    async def _sync(self, timeout: float = 5.0) -> None:
        n = next(self._sync_ids)
        await self._ask(osc.message("/sync", n), "/synced", n, timeout=timeout)

    async def record(self, path: str | os.PathLike, at: float | None = None, frames: int = 8192) -> None:
        """Write the two main outputs to a float WAV at ``path`` until ``stop_recording``
        (written inside ``files``, where scsynth may write, and moved to ``path`` then).

        ``at`` (time.time() scale) starts the recorder from a time-stamped bundle, so onsets in the
        file can be compared with the times they were scheduled for (to within one 64-sample block).
        DiskOut writes ``frames / 2`` at a time; small buffers keep ``stop_recording`` short.
        """
        self._check_up()
        await self._ask(osc.message("/d_recv", RECORDER), "/done", "/d_recv")
        await self._ask(osc.message("/b_alloc", REC_BUF, frames, 2), "/done", "/b_alloc")
        self._rec_path = Path(path)
        out = str(self._recording())
        await self._ask(osc.message("/b_write", REC_BUF, out, "wav", "float", 0, 0, 1), "/done", "/b_write")
        new = osc.message("/s_new", "gridtonic_rec", REC_NODE, 1, 0, "buf", REC_BUF)  # tail of group 0
        self._send_raw(new if at is None else osc.bundle(osc.unix_timetag(at), [new]))
        await self._sync()
        self._rec_frames = frames

    async def stop_recording(self) -> None:
        """Stop the recorder once everything played so far is in the file, and close the file."""
        sample_rate = (await self.status())["nominal_sr"]
        # /b_close drops a half-filled half of the buffer: let the current one fill first.
        await trio.sleep(self._rec_frames / 2 / sample_rate + 0.05)
        self._send_raw(osc.message("/n_free", REC_NODE))
        await self._ask(osc.message("/b_close", REC_BUF), "/done", "/b_close")
        await self._ask(osc.message("/b_free", REC_BUF), "/done", "/b_free")
        if self._rec_path is not None:
            shutil.move(self._recording(), self._rec_path)
            self._rec_path = None

    def _recording(self) -> Path:
        return self.files.absolute() / f"recording-{os.getpid()}-{self.port}.wav"

    def _check_up(self) -> None:
        if not self.up:
            raise ScsynthError(f"scsynth on port {self.port} is not running")

    async def _ask(self, packet: bytes, reply: str, *match: osc.OscArg, timeout: float = 5.0) -> list:
        try:
            with trio.fail_after(timeout):
                return await self._request(packet, reply, *match)
        except trio.TooSlowError:
            raise ScsynthError(f"no {reply} {match} from scsynth on port {self.port}") from None

    async def _request(self, packet: bytes, reply: str, *match: osc.OscArg) -> list:
        """Send ``packet``; the args of the first ``reply`` message whose leading args are ``match``."""
        send, receive = trio.open_memory_channel(1)
        entry = (reply, match, send)
        self._waiting.append(entry)
        try:
            self._send_raw(packet)
            result = await receive.receive()
        finally:
            self._waiting.remove(entry)
        if isinstance(result, Exception):
            raise result
        return result

    async def _receive(self) -> None:
        server = ("127.0.0.1", self.port)
        while True:
            try:
                data, sender = await self._sock.recvfrom(65536)
            except OSError as e:
                log.debug("receive from scsynth failed: %s", e)
                continue
            if sender != server:  # any local process can send here: only scsynth answers
                self.dropped(f"a datagram from {sender[0]}:{sender[1]}, not scsynth's port")
                continue
            try:
                self._dispatch(*osc.parse(data))
            except osc.BadMessage as e:
                self.dropped(f"a reply: {e}")
            except Exception as e:  # a bug, here or in on_end: this reader carries on
                self.failed.raised("a reply", e)

    def _dispatch(self, address: str, args: list) -> None:
        if address == mixer.METER:  # some 135 a second: first
            self.meters.reply(args, trio.current_time())
            return
        if address == "/n_end" and self.on_end is not None:
            node = osc.check(args, int)[0]
            if node != REC_NODE:
                self.on_end(node)
        if address == "/fail":  # a release (/n_set gate 0) sent ahead may find its voice already ended
            expected = args[:1] == ["/n_set"] and "not found" in str(args[1:2])
            (log.debug if expected else log.warning)("scsynth: %s", " ".join(map(str, args)))
        for reply, match, send in self._waiting:
            if address == reply and tuple(args[: len(match)]) == match:
                result: list | Exception = args
            elif address == "/fail" and reply == "/done" and match and args[:1] == [match[0]]:
                result = ScsynthError(f"scsynth: {' '.join(map(str, args))}")
            else:
                continue
            try:
                send.send_nowait(result)
            except trio.WouldBlock:
                pass  # already answered


async def _check_port_free(port: int) -> None:
    """One line naming the port when something holds it, left alone: a scsynth there may be
    another program's (or one left over from an earlier run), and is not ours to stop."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.bind(("127.0.0.1", port))
    except OSError:
        holder = "a scsynth gridtonic did not start" if await answers(port) else "another program"
        raise ScsynthError(
            f"UDP port {port} is already in use by {holder}; choose another port with --port"
        ) from None
    finally:
        probe.close()


async def answers(port: int, timeout: float = 0.5) -> bool:
    """Whether a scsynth on ``port`` replies to /status within ``timeout`` seconds."""
    with trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        await sock.bind(("127.0.0.1", 0))
        await sock.sendto(osc.message("/status"), ("127.0.0.1", port))
        with trio.move_on_after(timeout):
            while True:
                try:
                    if osc.parse(await sock.recv(65536))[0] == "/status.reply":
                        return True
                except (OSError, ValueError):  # nothing listens there, or not OSC
                    return False
    return False


class _Output:
    """Reads one scsynth's stdout into the debug log, keeping the last lines for error messages."""

    def __init__(self) -> None:
        self.lines: deque[str] = deque(maxlen=8)
        self.done = trio.Event()

    async def read(self, proc: child.Child) -> None:
        assert proc.stdout is not None
        buf = b""
        try:
            async with proc.stdout:
                async for chunk in proc.stdout:
                    buf += chunk
                    *lines, buf = buf.split(b"\n")
                    for line in filter(None, (x.decode(errors="replace").strip() for x in lines)):
                        self.lines.append(line)
                        log.debug("scsynth[%d]: %s", proc.pid, line)
        finally:
            self.done.set()

    async def finished(self) -> None:
        with trio.move_on_after(1):  # EOF follows the exit at once, unless a child holds the pipe
            await self.done.wait()

    def last(self, n: int) -> str:
        return " / ".join(list(self.lines)[-n:])
