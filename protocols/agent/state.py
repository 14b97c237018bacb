"""The agent's local state file: jobs not yet acknowledged by the server, and the applied settings.

Each job id moves through ``received`` (data kept, nothing sent to the printer yet, safe to retry)
→ ``printing`` (bytes may have reached the printer) → ``printed`` or ``failed`` (result not yet
acknowledged). A job found in ``printing`` after a restart is reported as ``unknown``, never printed
again. The file is replaced atomically (write to a temporary file, fsync, rename) on every change.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

RECEIVED = "received"
PRINTING = "printing"
PRINTED = "printed"
FAILED = "failed"
UNKNOWN = "unknown"
#: States whose result waits for the server's acknowledgement.
RESULT_STATES = (PRINTED, FAILED, UNKNOWN)


class AgentState:
    """Jobs by id and the applied settings, saved to ``path`` after every change."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self.jobs: dict[str, dict[str, Any]] = {}
        self.settings: dict[str, Any] = {}
        self.settings_version = 0
        self._load()

    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as err:
            raise SystemExit(f"agent state file {self.path} is unreadable ({err}); fix or move it away. "
                             "Moving it away forgets which printed jobs still need a result.") from None
        self.jobs = dict(data.get("jobs", {}))
        self.settings = dict(data.get("settings", {}))
        self.settings_version = int(data.get("settings_version", 0))
        log.info("agent state loaded path=%s jobs=%s", self.path, len(self.jobs))

    def _save(self) -> None:
        body = json.dumps({"jobs": self.jobs, "settings": self.settings, "settings_version": self.settings_version})
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".agent-state-")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                stream.write(body)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def get(self, job_id: str) -> dict[str, Any] | None:
        with self._lock:
            entry = self.jobs.get(job_id)
            return dict(entry) if entry is not None else None

    def set(self, job_id: str, status: str, **fields: Any) -> None:
        with self._lock:
            entry = self.jobs.setdefault(job_id, {})
            entry.update(fields, status=status)
            if status != RECEIVED:
                entry.pop("data", None)
            self._save()

    def forget(self, job_id: str) -> None:
        with self._lock:
            if self.jobs.pop(job_id, None) is not None:
                self._save()

    def with_status(self, *statuses: str) -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            return [(job_id, dict(entry)) for job_id, entry in self.jobs.items() if entry.get("status") in statuses]

    def apply_settings(self, settings: dict[str, Any], version: int) -> None:
        with self._lock:
            self.settings = settings
            self.settings_version = version
            self._save()
