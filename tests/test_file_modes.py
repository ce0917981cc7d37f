"""What `copytrade up` leaves on disk is private to its user: the data directory is 0700 and
every file in it (databases, JetStream's store, logs, secrets, endpoints) is 0600, also for a
data directory an older version left world-readable."""

import stat

from services.launcher import Mesh
from services.kit.natsd import free_port_block


def _open_to_others(root) -> list[str]:
    return sorted(f"{p.relative_to(root)} {stat.filemode(p.stat().st_mode)}" for p in root.rglob("*")
                  if p.is_file() and p.stat().st_mode & 0o077)


async def test_up_keeps_databases_and_logs_private(tmp_path):
    data_dir = tmp_path / "data"
    (data_dir / "logs").mkdir(parents=True)
    (data_dir / "logs" / "risk.log").write_text("an older run's log\n")
    (data_dir / "logs" / "risk.log").chmod(0o644)
    mesh = Mesh(data_dir, "127.0.0.1", free_port_block(), services=("risk",))
    try:
        await mesh.start()
        assert (data_dir / "risk.db").exists() and (data_dir / "logs" / "risk.log").exists()
        assert _open_to_others(data_dir) == []
        assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    finally:
        await mesh.stop()
