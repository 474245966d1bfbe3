"""A throwaway PostgreSQL server that asks for passwords (scram-sha-256), for the tests of a
wrong password, of a second connection that needs the password given, and of a server that
stops (the session's server, tests/pg_server.py, trusts 127.0.0.1 and ignores passwords)."""

from __future__ import annotations

import contextlib
import shutil

from tests.pg_server import Server

PASSWORD = "right-password"


class PasswordServer(Server):
    def init(self) -> PasswordServer:
        pwfile = self.folder / "pw"
        pwfile.write_text(f"{PASSWORD}\n")
        if self.as_root:
            shutil.chown(pwfile, "postgres", "postgres")
        self._run(self.bin / "initdb", "-D", self.data, "-U", "postgres",
                  "--auth=scram-sha-256", f"--pwfile={pwfile}", "--no-sync", "-E", "UTF8",
                  "--locale=C.UTF-8")
        pwfile.unlink()
        return self

    def uri(self, database: str = "postgres", user: str = "postgres",
            password: str = PASSWORD) -> str:
        return f"postgresql://{user}:{password}@127.0.0.1:{self.port}/{database}"


@contextlib.contextmanager
def password_server():
    server = PasswordServer().init().start()
    try:
        yield server
    finally:
        server.destroy()
