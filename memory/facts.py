"""Memory facts: what one step of a run leaves for the later ones.

A fact is a JSON value under a key, per run (`project_id`, `service_key`,
`tables_created`). A fact is secret when the step says so or when its key is named
like a secret (`service_key`, `anon_key`): the value is kept, because later steps
need it, but never shown unredacted by `all_facts(redact=True)`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from .base import StoreBase
from .encoding import dump_json, load_json, now, time_text
from .errors import MissingContext
from .ids import RunId, StepId
from .redact import REDACTED, is_secret_key, redact

__all__ = ["FactsMixin"]


class FactsMixin(StoreBase):
    """Reading and writing a run's memory facts."""

    def put_facts(
        self,
        run_id: RunId,
        step_id: StepId,
        facts: Mapping[str, Any],
        secret_keys: Collection[str] = frozenset(),
    ) -> None:
        """Store `facts` (replacing earlier values of the same keys) as produced by `step_id`.

        Keys in `secret_keys`, and keys named like secrets, are stored as secret.
        """
        stamp = time_text(now())
        rows = [
            [
                run_id,
                key,
                dump_json(value, what=f"memory fact {key!r}"),
                int(key in secret_keys or is_secret_key(key)),
                step_id,
                stamp,
            ]
            for key, value in facts.items()
        ]
        with self.atomic() as db:
            self._require_run(db, run_id)
            db.conn.executemany(
                "INSERT INTO aw_facts (run_id, key, value, secret, step_id, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, key) DO UPDATE SET"
                " value = excluded.value, secret = excluded.secret,"
                " step_id = excluded.step_id, updated_at = excluded.updated_at",
                rows,
            )

    def get_facts(
        self,
        run_id: RunId,
        keys: Iterable[str],
        *,
        producers: Mapping[str, StepId] | None = None,
    ) -> dict[str, Any]:
        """The values of `keys`; raises `MissingContext` naming any that are absent.

        `producers` maps keys to the step that declares them in its `store`, so the
        error can say which step should have run.
        """
        wanted = sorted(set(keys))
        found = self._select_facts(run_id, wanted)
        missing = tuple(key for key in wanted if key not in found)
        if missing:
            raise MissingContext(run_id, missing, producers or {})
        return {key: value for key, (value, _secret) in found.items()}

    def drop_facts(self, run_id: RunId, keys: Iterable[str]) -> None:
        """Forget `keys` (absent keys are ignored)."""
        with self.atomic() as db:
            self._require_run(db, run_id)
            db.conn.executemany(
                "DELETE FROM aw_facts WHERE run_id = ? AND key = ?",
                [(run_id, key) for key in set(keys)],
            )

    def all_facts(self, run_id: RunId, *, redact: bool = True) -> dict[str, Any]:
        """Every fact of the run, by key; with `redact`, secrets are shown as `[redacted]`."""
        found = self._select_facts(run_id, None)
        if not redact:
            return {key: value for key, (value, _secret) in found.items()}
        return {
            key: REDACTED if secret else _redact_value(value)
            for key, (value, secret) in found.items()
        }

    def _select_facts(self, run_id: RunId, keys: list[str] | None) -> dict[str, tuple[Any, bool]]:
        sql = "SELECT key, value, secret FROM aw_facts WHERE run_id = ?"
        params: list[Any] = [run_id]
        if keys is not None:
            sql += f" AND key IN ({', '.join('?' for _ in keys)})"
            params += keys
        with self._read() as db:
            self._require_run(db, run_id)
            rows = db.execute(sql + " ORDER BY key", params).fetchall()
        return {key: (load_json(value), bool(secret)) for key, value, secret in rows}


def _redact_value(value: Any) -> Any:
    # The module-level redact() is shadowed by all_facts' keyword argument.
    return redact(value)
