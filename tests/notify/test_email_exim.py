"""The email channel against a real MTA: Debian's exim4 on loopback, without SMTPUTF8.

The test starts `exim4 -bdf` from its own configuration (a free port on 127.0.0.1, every
recipient accepted into one local maildir) and reads the delivered files back: exim writes
the envelope it was given into `Return-path:` and `Envelope-to:`.
"""

from __future__ import annotations

import email
import email.policy
import os
import pwd
import shutil
import smtplib
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest
from support import free_port, make_target

from sqlsentinel.core.delivery import Attempt
from sqlsentinel.core.spec import SmtpSpec
from sqlsentinel.notify.deliver import deliver

from .servers import make_event

EXIM = "/usr/sbin/exim4"
CONFIG = """\
primary_hostname = sentinel.test
spool_directory = {root}/spool
log_file_path = {root}/log/%slog
pid_file_path = {root}/exim.pid
daemon_smtp_ports = {port}
local_interfaces = 127.0.0.1
smtputf8_advertise_hosts =
tls_advertise_hosts =
keep_environment =
host_lookup =
acl_smtp_rcpt = accept_all

begin acl
accept_all:
  accept

begin routers
mailbox:
  driver = accept
  transport = maildir

begin transports
maildir:
  driver = appendfile
  directory = {root}/Maildir
  maildir_format
  create_directory
  user = {user}
  envelope_to_add
  return_path_add
"""


@dataclass(frozen=True)
class Exim:
    port: int
    root: Path

    def delivered(self, count: int, timeout: float = 20.0) -> list[bytes]:
        """The raw messages in the maildir, once `count` have arrived."""
        new = self.root / "Maildir" / "new"
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            files = sorted(new.iterdir()) if new.is_dir() else []
            if len(files) >= count:
                return [f.read_bytes() for f in files]
            time.sleep(0.05)
        log = (self.root / "log" / "mainlog").read_text(errors="replace")
        raise AssertionError(f"{count} message(s) not delivered in {timeout}s:\n{log}")


def wait_for_greeting(port: int, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AssertionError(f"exim exited {proc.returncode}")
        try:
            smtplib.SMTP("127.0.0.1", port, timeout=2).quit()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"exim did not answer on port {port} within {timeout}s")


@pytest.fixture(scope="module")
def exim() -> Iterator[Exim]:
    # With -C exim gives up root and runs as its own user (as root) or the caller: the
    # folder must be theirs, and exim refuses to deliver as root.
    user = "Debian-exim" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
    root = Path(tempfile.mkdtemp(prefix="sqlsentinel-exim-"))
    port = free_port()
    try:
        for sub in ("spool", "log"):
            (root / sub).mkdir()
        config = root / "exim.conf"
        config.write_text(CONFIG.format(root=root, port=port, user=user))
        for path in (root, root / "spool", root / "log"):
            shutil.chown(path, user)
        proc = subprocess.Popen([EXIM, "-C", str(config), "-bdf"], stderr=subprocess.PIPE)
        try:
            wait_for_greeting(port, proc)
            yield Exim(port, root)
        finally:
            proc.terminate()
            proc.wait(10)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def parse(raw: bytes) -> EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def test_exim_offers_no_smtputf8(exim: Exim) -> None:
    with smtplib.SMTP("127.0.0.1", exim.port, timeout=10) as client:
        client.ehlo()
        assert not client.has_extn("smtputf8")


def test_non_ascii_display_names_reach_a_real_mta(exim: Exim) -> None:
    """Issue 17.16: exim without SMTPUTF8 delivers to every recipient; the envelope is the
    addr-specs, the headers keep the names as RFC 2047 encoded words."""
    attempts: list[Attempt] = []
    smtp = SmtpSpec(
        host="127.0.0.1",
        port=exim.port,
        starttls=False,
        from_address="Sentinelle Données <alerts@example.com>",
    )
    recipients = ["Équipe Ops <ops@example.com>", "Dev Team <dev@example.org>"]
    result = deliver(
        make_event(),
        make_target("email", recipients=recipients),
        smtp=smtp,
        deadline=time.monotonic() + 30,
        on_attempt=attempts.append,
        sleep=lambda _s: None,
    )
    assert (result.outcome, result.attempts) == ("delivered", 1), result.detail
    raw = exim.delivered(2)
    assert len(raw) == 2
    messages = [parse(r) for r in raw]
    assert sorted(str(m["Envelope-to"]) for m in messages) == [
        "dev@example.org",
        "ops@example.com",
    ]
    for r, m in zip(raw, messages, strict=True):
        assert str(m["Return-path"]) == "<alerts@example.com>"
        head = r.split(b"\n\n")[0]
        assert head.isascii() and b"=?utf-8?" in head
        assert [a.display_name for a in m["To"].addresses] == ["Équipe Ops", "Dev Team"]
        assert m["From"].addresses[0].display_name == "Sentinelle Données"
        assert m["X-SQLSentinel-Event-Id"] == attempts[0].event_id
