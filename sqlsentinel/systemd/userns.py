"""Whether a user manager may sandbox its services: `PrivateUsers=` needs a user namespace.

A user manager has no privileges of its own: its services get mount namespaces (and with
them ProtectSystem=, PrivateTmp=, …) only inside a user namespace of their own. Where the
kernel refuses one to unprivileged users, a unit asking for it fails to start
(`226/NAMESPACE`), so the sandbox is written only where the kernel permits it: user
namespaces enabled (`user.max_user_namespaces`), not switched off for unprivileged users
(Debian's `kernel.unprivileged_userns_clone`), not restricted by AppArmor (Ubuntu's
`kernel.apparmor_restrict_unprivileged_userns`). The sysctls are read, not probed, so
the answer is the same inside the daemon's own sandbox.
"""

from __future__ import annotations

import os
from pathlib import Path


def _sysctl(root: Path, name: str) -> int | None:
    try:
        return int((root / name).read_text().strip())
    except (OSError, ValueError):
        return None


def user_sandbox_allowed(root: Path = Path("/proc/sys")) -> bool:
    """True when this user's services may have a user namespace (PrivateUsers=yes)."""
    if _sysctl(root, "user/max_user_namespaces") == 0:
        return False
    if os.geteuid() == 0:
        return True
    return (
        _sysctl(root, "kernel/unprivileged_userns_clone") != 0
        and _sysctl(root, "kernel/apparmor_restrict_unprivileged_userns") != 1
    )
