"""A private Dovecot IMAP server for one test: temp config, passwd-file auth, maildir in a temp directory."""

from __future__ import annotations

import grp
import imaplib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.private_redis import free_port

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
CONFIG = """base_dir = {dir}/run
state_dir = {dir}/state
log_path = {dir}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
default_internal_user = {internal}
default_internal_group = {internal_group}
default_login_user = {login}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {dir}/passwd
}}
userdb {{
  driver = static
  args = uid={mail_uid} gid={mail_gid} home={dir}/home/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 0
  }}
}}
service submission-login {{
  inet_listener submission {{
    port = 0
  }}
}}
"""


class PrivateDovecot:
    """Dovecot on a free port with one user. Unprivileged it runs as the current user; as root (CI) Dovecot
    refuses root for its login and mail processes, so those run as Debian's dovenull/dovecot/nobody."""

    def __init__(self, user: str = "crm", password: str = "secret") -> None:
        self.user, self.password, self.port = user, password, free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="kanban-imap-"))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"imap://{self.user}:{self.password}@127.0.0.1:{self.port}/INBOX"

    def start(self) -> None:
        """Write the config and start Dovecot in the foreground; wait until it greets."""
        me = pwd.getpwuid(os.geteuid()).pw_name
        group = grp.getgrgid(os.getegid()).gr_name
        if os.geteuid() == 0:
            names = {"internal": "dovecot", "internal_group": "dovecot", "login": "dovenull",
                     "mail_uid": "nobody", "mail_gid": "nogroup"}
        else:
            names = {"internal": me, "internal_group": group, "login": me, "mail_uid": me, "mail_gid": group}
        os.chmod(self.dir, 0o755)  # the unprivileged login/mail processes must reach their directories
        for sub in ("run", "state", "home"):
            (self.dir / sub).mkdir(exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.dir / "home", names["mail_uid"], names["mail_gid"])
        (self.dir / "passwd").write_text(f"{self.user}:{{PLAIN}}{self.password}\n")
        (self.dir / "dovecot.conf").write_text(CONFIG.format(dir=self.dir, port=self.port, **names))
        self.proc = subprocess.Popen([DOVECOT, "-F", "-c", str(self.dir / "dovecot.conf")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    if sock.recv(100).startswith(b"* OK"):
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"dovecot did not start: {(self.dir / 'dovecot.log').read_text(errors='replace')}")

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        """Deliver a message with IMAP APPEND."""
        client = imaplib.IMAP4("127.0.0.1", self.port)
        try:
            client.login(self.user, self.password)
            typ, data = client.append(folder, None, None, raw)
            assert typ == "OK", data
        finally:
            client.logout()

    def stop(self) -> None:
        """Stop Dovecot and remove its directory."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(15)
            self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)
