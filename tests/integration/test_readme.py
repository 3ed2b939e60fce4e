"""The README, followed by a newcomer on a fresh checkout: every command block is run in
order, in an empty directory, with the installed ``waddlebot``, and what it prints is checked
against what the README shows.

- ```` ```sh ```` blocks: a line starting with ``$ `` is a command (continued over the next
  lines while a quote is open or the line ends with ``\\``), the lines after it until the next
  command are what it prints. A block without ``$`` lines is commands only. ``make run`` runs
  the Makefile's ``run`` recipe, its server in the background; ``cmd &`` starts a server in
  the background, and the next command waits until it answers ``/healthz``. A chat started
  on a terminal (``waddlebot chat`` not fed by a pipe) is replayed on a pseudo-terminal, typing
  the lines after ``<user>> ``.
- ```` ```python ```` blocks whose first line is ``# <file>.py`` are saved as that file.
- ```` ```text ```` blocks of ``name (role)> line`` / ``bot> reply`` are chat transcripts,
  replayed through ``waddlebot chat --url`` against the server ``make run`` started, each
  person with their role.

The README's ports are replaced by free ones, its PostgreSQL and Redis URLs by a database of
this test's own and a Redis key prefix of its own. In expected output ``…`` stands for
anything (ids), and the examples' dates and times match any date and time of the same form.
"""

from __future__ import annotations

import asyncio
import os
import pty
import re
import select
import shlex
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.harness import free_port
from tests.support.processes import ServiceProcess, waddlebot_executable

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
COMMAND_TIMEOUT = 60

FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.S | re.M)
SPEAKER = re.compile(r"^(?P<user>[a-z]+)(?: \((?P<role>[a-z]+)\))?> (?P<text>.*)$")
MONTH = "(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
WEEKDAY = "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"


# -- reading the README -----------------------------------------------------------------------


@dataclass
class Command:
    line: str  # as written, continuation lines joined with newlines
    output: list[str] = field(default_factory=list)
    checked: bool = False  # a $ command: its output is what the README shows


@dataclass
class Block:
    kind: str  # sh, python, text
    text: str
    line: int

    def commands(self) -> list[Command]:
        lines = self.text.splitlines()
        prompted = any(line.startswith("$ ") for line in lines)
        commands: list[Command] = []
        i = 0
        while i < len(lines):
            line = lines[i]
            i += 1
            if prompted and not line.startswith("$ "):
                assert commands, f"README line {self.line}: output before any command"
                commands[-1].output.append(line)
                continue
            if not line.strip():
                continue
            text = line[2:] if prompted else line
            while _unfinished(text) and i < len(lines):
                text += "\n" + lines[i]
                i += 1
            commands.append(Command(text, checked=prompted))
        return commands


def _unfinished(command: str) -> bool:
    if command.rstrip().endswith("\\"):
        return True
    try:
        shlex.split(command, comments=True)
    except ValueError:  # a quote still open
        return True
    return False


def readme_blocks() -> list[Block]:
    text = README.read_text()
    return [
        Block(m.group(1), m.group(2), text.count("\n", 0, m.start()) + 1)
        for m in FENCE.finditer(text)
    ]


def expected_line(line: str) -> re.Pattern[str]:
    """A README output line as a pattern: ``…`` is anything; example dates and times are
    any date and time of the same form."""
    pattern = re.escape(line).replace("…", ".*?")
    pattern = re.sub(r"\d\d\d\d\\-\d\d\\-\d\d", r"\\d{4}-\\d{2}-\\d{2}", pattern)
    pattern = re.sub(rf"({WEEKDAY})\\ \d\d?\\ {MONTH}", rf"\1\\ \\d{{1,2}}\\ {MONTH}", pattern)
    return re.compile(
        re.sub(r"today\\ at\\ \d\d:\d\d", r"(?:today|tomorrow)\\ at\\ \\d{2}:\\d{2}", pattern)
    )


def assert_shows(shown: str, expected: list[str], where: str) -> None:
    lines = shown.splitlines()
    assert len(lines) == len(expected) and all(
        expected_line(want).fullmatch(got) for want, got in zip(expected, lines, strict=True)
    ), f"{where}: the README shows\n" + "\n".join(expected) + "\nbut it printed\n" + shown


# -- running it -------------------------------------------------------------------------------


class Newcomer:
    """A shell in a fresh directory: the README's commands with this machine's ports,
    databases and ``waddlebot``, background servers reaped at the end."""

    def __init__(self, home: Path, database_url: str, redis_url: str, prefix: str) -> None:
        self.home = home
        self.waddlebot = waddlebot_executable()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("WADDLEBOT_")}
        self.env |= {"WADDLEBOT_STREAM_PREFIX": prefix, "WADDLEBOT_LOG_JSON": "true"}
        self.replacements = {
            "WADDLEBOT_DATABASE_URL": database_url,
            "WADDLEBOT_REDIS_URL": redis_url,
        }
        self.ports: dict[str, int] = {}
        self.servers: list[ServiceProcess] = []
        self.chat_url = ""  # the server make run started, for the transcripts

    # what the README says, for this machine

    def port(self, readme_port: str) -> int:
        return self.ports.setdefault(readme_port, free_port())

    def localise(self, command: str) -> str:
        command = command.replace(".venv/bin/waddlebot", self.waddlebot)
        command = re.sub(r"127\.0\.0\.1:(\d+)", lambda m: f"127.0.0.1:{self.port(m[1])}", command)
        command = re.sub(r"--port (\d+)", lambda m: f"--port {self.port(m[1])}", command)
        for name, value in self.replacements.items():
            command = re.sub(rf"^export {name}=\S+", f"export {name}={value}", command)
        return command

    # running

    def run(self, command: Command, where: str) -> None:
        line = command.line.strip()
        if shlex.split(line, comments=True) == ["make", "run"]:
            self.make_run(where)
        elif line.endswith("&"):
            self.background(self.localise(line[:-1]), where)
        elif line.startswith("export "):
            self.export(self.localise(line))
        elif _chat_on_a_terminal(line):
            screen = chat_on_a_terminal(self.localise(line), command.output, self.env, self.home)
            assert_shows(screen, command.output, where)
        else:
            done = self.shell(self.localise(line))
            assert done.returncode == 0, f"{where}: {line}\n{done.stderr}"
            if command.checked:
                assert_shows(done.stdout, command.output, where)

    def shell(self, line: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-c", line],
            cwd=self.home,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )

    def export(self, line: str) -> None:
        name = line.removeprefix("export ").split("=", 1)[0]
        done = self.shell(f'{line}\nprintf %s "${name}"')
        assert done.returncode == 0, done.stderr
        self.env[name] = done.stdout

    def make_run(self, where: str) -> None:
        """The Makefile's ``run`` recipe, without its ``install`` prerequisite (the test runs
        the installed package); its last line is the server."""
        recipe = _make_recipe("run")
        bin_dir = str(Path(self.waddlebot).parent)
        lines = [line.replace("$(BIN)", bin_dir) for line in recipe]
        for line in lines[:-1]:
            done = self.shell(line)
            assert done.returncode == 0, f"{where}: {line}\n{done.stderr}"
        port = self.port("8000")  # the README's address for make run
        self.chat_url = f"http://127.0.0.1:{port}"
        self.background(lines[-1], where, port)

    def background(self, line: str, where: str, port: int | None = None) -> None:
        found = re.search(r"--port (\d+)", line)
        port = port or (int(found[1]) if found else None)
        assert port is not None, f"{where}: a background command needs --port: {line}"
        taken = [server.name for server in self.servers if server.port == port and server.alive]
        assert not taken, f"{where}: port {port} is taken already by {taken}: {line}"
        log = self.home / f"server-{len(self.servers)}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(
                ["bash", "-c", f"exec {line}"],
                cwd=self.home,
                env=self.env | {"WADDLEBOT_PORT": str(port)},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        server = ServiceProcess(line, port, log, popen, self.env)
        self.servers.append(server)
        asyncio.run(server.wait_healthy(timeout=60))
        assert server.alive, f"{where}: {line} stopped\n{server.log_tail()}"

    def replay(self, transcript: Block) -> None:
        """A chat transcript, each person's lines through their own ``waddlebot chat``."""
        assert self.chat_url, f"README line {transcript.line}: a transcript before make run"
        for (user, role), said, replies in _turns(transcript.text):
            args = [self.waddlebot, "chat", "--url", self.chat_url, "--user", user]
            args += ["--role", role]
            done = self.shell(shlex.join(args), stdin="".join(f"{line}\n" for line in said))
            assert done.returncode == 0, done.stderr
            where = f"README line {transcript.line}, {user}: {said}"
            assert_shows(done.stdout, replies, where)

    def close(self) -> None:
        for server in self.servers:
            if server.alive:
                os.killpg(server.pid, signal.SIGTERM)
        for server in self.servers:
            try:
                server.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.popen.wait(timeout=10)


def _make_recipe(target: str) -> list[str]:
    lines = (REPO / "Makefile").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{target}:"))
    recipe = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip())
    return recipe


def _chat_on_a_terminal(line: str) -> bool:
    words = shlex.split(line)
    return "|" not in words and "<" not in line and words[1:2] == ["chat"]


def _turns(text: str) -> Iterator[tuple[tuple[str, str], list[str], list[str]]]:
    """(user, role), what they typed, what the bot answered: consecutive lines of one
    person go to one chat."""
    speaker: tuple[str, str] | None = None
    said: list[str] = []
    replies: list[str] = []
    for line in text.splitlines():
        if line.startswith("bot> "):
            replies.append(line.removeprefix("bot> "))
            continue
        match = SPEAKER.fullmatch(line)
        assert match is not None, f"not a transcript line: {line!r}"
        who = (match["user"], match["role"] or "everyone")
        if who != speaker and speaker is not None:
            yield speaker, said, replies
            said, replies = [], []
        speaker = who
        said.append(match["text"])
    if speaker is not None:
        yield speaker, said, replies


def chat_on_a_terminal(line: str, shown: list[str], env: dict[str, str], home: Path) -> str:
    """Run ``waddlebot chat`` on a pseudo-terminal and type what the README shows after each
    ``<user>> `` prompt, once the bot has answered the line before; returns the screen."""
    user = shlex.split(line)[shlex.split(line).index("--user") + 1]
    prompt = f"{user}> "
    typed = [entry.removeprefix(prompt) for entry in shown if entry.startswith(prompt)]
    controller, terminal = pty.openpty()
    chat = subprocess.Popen(
        ["bash", "-c", f"exec {line}"],
        cwd=home,
        env=env | {"TERM": "dumb"},
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,  # where a terminal's input() shows its prompt
        start_new_session=True,
    )
    os.close(terminal)
    screen = b""
    try:
        for entry in [*typed, None]:
            screen = _read_until(controller, screen, prompt.encode())
            os.write(controller, b"\x04" if entry is None else entry.encode() + b"\n")
        assert chat.wait(timeout=COMMAND_TIMEOUT) == 0
    finally:
        if chat.poll() is None:
            chat.kill()
            chat.wait()
        os.close(controller)
    return _plain(screen).removesuffix(prompt).rstrip("\n")  # the last prompt, left with Ctrl-D


def _plain(screen: bytes) -> str:
    """What a person sees: no carriage returns, no terminal control sequences."""
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.decode(errors="replace")).replace("\r", "")


def _read_until(controller: int, screen: bytes, prompt: bytes) -> bytes:
    """Read the terminal until it shows a new prompt at the end (the bot has answered)."""
    seen = len(screen)
    while not (len(screen) > seen and _plain(screen[seen:]).endswith(prompt.decode())):
        ready, _, _ = select.select([controller], [], [], COMMAND_TIMEOUT)
        assert ready, f"the chat showed no prompt; it shows:\n{screen.decode(errors='replace')}"
        screen += os.read(controller, 65536)
    return screen


# -- the test ---------------------------------------------------------------------------------


@pytest.mark.timeout(600)  # the whole README, a few dozen processes
def test_the_readme_does_what_it_says(
    tmp_path: Path, fresh_postgres_url: str, redis_url: str, key_prefix: str
) -> None:
    newcomer = Newcomer(tmp_path, fresh_postgres_url, redis_url, key_prefix)
    ran = 0
    try:
        for block in readme_blocks():
            if block.kind == "python":
                name = block.text.splitlines()[0].removeprefix("# ")
                assert name.endswith(".py"), f"README line {block.line}: name the file"
                (tmp_path / name).write_text(block.text)
            elif block.kind == "text":
                newcomer.replay(block)
                ran += 1
            elif block.kind == "sh":
                for number, command in enumerate(block.commands()):
                    newcomer.run(command, f"README line {block.line}, command {number + 1}")
                    ran += 1
                    if command.line.startswith("curl") and "?wait=true" in command.line:
                        _without_waiting(newcomer, command.line)
            else:
                pytest.fail(f"README line {block.line}: a ``{block.kind}`` block is not run")
    finally:
        newcomer.close()
    assert ran > 15  # every block counted, none lost to a parsing slip


def _without_waiting(newcomer: Newcomer, curl: str) -> None:
    """The README's other promise about its curl example: without ?wait=true, 202 at once."""
    assert "Without `?wait=true` the answer is `202 Accepted`" in README.read_text()
    accepted = newcomer.shell(
        newcomer.localise(curl)
        .replace("?wait=true", "")
        .replace('"m1"', '"m2"')
        .replace("curl -s", "curl -s -o /dev/null -w '%{http_code}'", 1)
    )
    assert accepted.stdout == "202", accepted.stderr
