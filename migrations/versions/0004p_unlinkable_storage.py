"""unlinkable storage: random keys, day-coarse times, a flag-only ledger, sealed Slack tokens

Revision ID: 0004p
Revises: 0003
Create Date: 2026-12-03 15:00:00

Rewrites existing rows (docs/privacy.md):
- respondents, responses, answers, participation get random 63-bit ids (children follow);
  PostgreSQL's serial sequences are dropped; answer_choices becomes WITHOUT ROWID on SQLite;
- every time next to answers becomes its day (00:00 UTC); responses gain `revision`;
- participation keeps `invited` / `completed` flags (from invited_at / completed_at) and the
  day of the last reminder; its started/completed/invited times are dropped;
- `participation_marks` (sealed pending ledger marks) is created;
- Slack installations: bot/user/refresh tokens and the webhook URL are sealed into
  `sealed_secrets` with the key derived from STATEOF_SECRET_KEY; `bot_token` is dropped.
  The key comes from `config.attributes["secret_key"]` or, when absent, from the bot's
  settings (STATEOF_SECRET_KEY, else the secret file), as `stateof db upgrade` runs it;
- PostgreSQL: the rewritten tables are CLUSTERed on their random keys, so their physical
  order (ctid) no longer follows insertion and no old row version stays in the heap.
  SQLite: `surveys.migrate.upgrade` VACUUMs the file afterwards (freed pages keep old rows).
The kept aggregates of closed waves are dropped (they are counted again on the next summary).
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import context, op

revision: str = "0004p"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# (table, [(child table, child column)]) re-keyed, parents first
REKEYED = [
    ("respondents", [("responses", "respondent_id"), ("answers", "respondent_id"),
                     ("answer_choices", "respondent_id")]),
    ("responses", []),
    ("answers", [("answer_choices", "answer_id")]),
    ("participation", []),
]
# PostgreSQL: integer columns that become bigint (SQLite integers are 64-bit already)
WIDENED = [("respondents", "id"), ("responses", "id"), ("responses", "respondent_id"),
           ("answers", "respondent_id"), ("answer_choices", "respondent_id"), ("participation", "id")]
FOREIGN_KEYS = [  # dropped while ids change (PostgreSQL), then created again
    ("fk_responses_respondent_id_respondents", "responses", "respondents", "respondent_id"),
    ("fk_answers_respondent_id_respondents", "answers", "respondents", "respondent_id"),
    ("fk_answer_choices_answer_id_answers", "answer_choices", "answers", "answer_id"),
]
DAY_COLUMNS = [("respondents", "created_at"), ("responses", "started_at"), ("responses", "completed_at"),
               ("responses", "updated_at"), ("answers", "answered_at"), ("participation", "reminded_at")]
CLUSTERED = ["respondents", "responses", "answers", "answer_choices", "participation",
             "slack_installations"]


def _pg() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _random_key() -> str:
    if _pg():  # 63 bits of md5(random, id): distinct inputs, no sequence
        return ("(('x' || substr(md5(random()::text || ':' || id::text), 1, 16))::bit(64)::bigint "
                "& 9223372036854775807)")
    return "(random() & 9223372036854775807)"


def _rekey(table: str, children: list[tuple[str, str]], new_id: str) -> None:
    """Give every row of `table` the id `new_id` (SQL over the old `id`); children follow."""
    op.execute(f"CREATE TEMPORARY TABLE rekey_{table} (old BIGINT PRIMARY KEY, new BIGINT NOT NULL)")
    op.execute(f"INSERT INTO rekey_{table} (old, new) SELECT id, {new_id} FROM {table}")
    for child, column in [*children, (table, "id")]:
        if _pg():
            op.execute(f"UPDATE {child} SET {column} = m.new FROM rekey_{table} m "
                       f"WHERE m.old = {child}.{column}")
        else:
            op.execute(f"UPDATE {child} SET {column} = (SELECT m.new FROM rekey_{table} m "
                       f"WHERE m.old = {child}.{column})")
    op.execute(f"DROP TABLE rekey_{table}")


def _foreign_keys(create: bool) -> None:
    if not _pg():
        return  # SQLite: the migration connection does not enforce foreign keys
    for name, child, parent, column in FOREIGN_KEYS:
        if create:
            op.create_foreign_key(name, child, parent, [column], ["id"], ondelete="CASCADE")
        else:
            op.drop_constraint(name, child, type_="foreignkey")


def _day(table: str, column: str) -> str:
    if _pg():
        return (f"UPDATE {table} SET {column} = date_trunc('day', {column} AT TIME ZONE 'UTC') "
                f"AT TIME ZONE 'UTC' WHERE {column} IS NOT NULL")
    return (f"UPDATE {table} SET {column} = substr({column}, 1, 10) || ' 00:00:00.000000' "
            f"WHERE {column} IS NOT NULL")


def upgrade() -> None:
    pg = _pg()
    op.execute("DELETE FROM wave_aggregates")
    with op.batch_alter_table("participation") as batch:
        batch.add_column(sa.Column("invited", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column("completed", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.execute("UPDATE participation SET invited = TRUE WHERE invited_at IS NOT NULL")
    op.execute("UPDATE participation SET completed = TRUE WHERE completed_at IS NOT NULL")
    with op.batch_alter_table("participation") as batch:
        for column in ("invited_at", "started_at", "completed_at"):
            batch.drop_column(column)
    with op.batch_alter_table("responses") as batch:
        batch.add_column(sa.Column("revision", sa.Integer(), server_default="0", nullable=False))
    for table, column in DAY_COLUMNS:
        op.execute(_day(table, column))

    _foreign_keys(create=False)
    if pg:
        for table, column in WIDENED:
            op.alter_column(table, column, type_=sa.BigInteger(), existing_type=sa.Integer(),
                            existing_nullable=False)
        for table, _ in REKEYED:
            op.execute(f"ALTER TABLE {table} ALTER COLUMN id DROP DEFAULT")
            op.execute(f"DROP SEQUENCE IF EXISTS {table}_id_seq")
    for table, children in REKEYED:
        _rekey(table, children, _random_key())
    _foreign_keys(create=True)
    if not pg:  # no hidden rowid in insertion order
        with op.batch_alter_table("answer_choices", recreate="always",
                                  table_kwargs={"sqlite_with_rowid": False}):
            pass

    op.create_table(
        "participation_marks",
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("wave_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["wave_id"], ["waves.id"], name=op.f("fk_participation_marks_wave_id_waves"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_participation_marks")),
        sqlite_with_rowid=False,
    )
    op.create_index(op.f("ix_participation_marks_wave_id"), "participation_marks", ["wave_id"])

    with op.batch_alter_table("slack_installations") as batch:
        batch.add_column(sa.Column("sealed_secrets", sa.Text(), nullable=True))
    _seal_slack_installations()
    with op.batch_alter_table("slack_installations") as batch:
        batch.drop_column("bot_token")

    if pg:
        for table in CLUSTERED:
            op.execute(f"CLUSTER {table} USING pk_{table}")
    else:  # freed pages still hold the old rows: surveys.migrate VACUUMs after the transaction
        context.config.attributes["vacuum"] = True


def _secret() -> bytes:
    key = context.config.attributes.get("secret_key")
    if key:
        return key if isinstance(key, bytes) else str(key).encode()
    from bot.settings import SettingsError, load_settings, resolve_secret

    try:
        return resolve_secret(load_settings())
    except SettingsError as exc:
        raise RuntimeError(
            f"migration 0004p seals the stored Slack tokens and needs the bot's key: {exc}"
        ) from None


def _seal_slack_installations() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, bot_token, data FROM slack_installations")).all()
    if not rows:
        return
    from bot.slack.installations import seal_secrets, split_secrets

    secret = _secret()
    for row_id, bot_token, data in rows:
        data = _json(data)
        public, secrets = split_secrets({**data, "bot_token": bot_token})
        conn.execute(
            sa.text(f"UPDATE slack_installations SET sealed_secrets = :sealed, data = {_json_param()} "
                    "WHERE id = :id"),
            {"sealed": seal_secrets(secret, secrets) if secrets else None, "data": _dump(public),
             "id": row_id},
        )


def _json(value: Any) -> dict[str, Any]:
    import json

    if value is None:
        return {}
    return json.loads(value) if isinstance(value, str) else dict(value)


def _json_param() -> str:
    return "CAST(:data AS JSON)" if _pg() else ":data"


def _dump(value: dict[str, Any]) -> str:
    import json

    return json.dumps(value)


def downgrade() -> None:
    """Back to 0003's schema: sequential ids again (in random order), tokens opened. Times stay
    days and the started times of the ledger are gone: they cannot be restored."""
    pg = _pg()
    with op.batch_alter_table("slack_installations") as batch:
        batch.add_column(sa.Column("bot_token", sa.Text(), nullable=True))
    _open_slack_installations()
    with op.batch_alter_table("slack_installations") as batch:
        batch.drop_column("sealed_secrets")

    op.drop_index(op.f("ix_participation_marks_wave_id"), table_name="participation_marks")
    op.drop_table("participation_marks")

    _foreign_keys(create=False)
    for table, children in REKEYED:
        _rekey(table, children, "ROW_NUMBER() OVER (ORDER BY id)")
    if pg:
        for table, column in WIDENED:
            op.alter_column(table, column, type_=sa.Integer(), existing_type=sa.BigInteger(),
                            existing_nullable=False)
        for table, _ in REKEYED:
            op.execute(f"CREATE SEQUENCE {table}_id_seq OWNED BY {table}.id")
            op.execute(f"SELECT setval('{table}_id_seq', (SELECT coalesce(max(id), 0) + 1 FROM {table}), "
                       "false)")
            op.execute(f"ALTER TABLE {table} ALTER COLUMN id SET DEFAULT nextval('{table}_id_seq')")
    _foreign_keys(create=True)
    if not pg:
        with op.batch_alter_table("answer_choices", recreate="always",
                                  table_kwargs={"sqlite_with_rowid": True}):
            pass

    with op.batch_alter_table("responses") as batch:
        batch.drop_column("revision")
    with op.batch_alter_table("participation") as batch:
        batch.add_column(sa.Column("invited_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("started_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True))
    for flag in ("invited", "completed"):  # the wave's opening day stands in for the lost times
        op.execute(f"UPDATE participation SET {flag}_at = (SELECT coalesce(w.opened_at, w.created_at) "
                   f"FROM waves w WHERE w.id = participation.wave_id) WHERE {flag}")
    with op.batch_alter_table("participation") as batch:
        batch.drop_column("invited")
        batch.drop_column("completed")


def _open_slack_installations() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.text(
        "SELECT id, sealed_secrets, data FROM slack_installations WHERE sealed_secrets IS NOT NULL")).all()
    if not rows:
        return
    from bot.slack.installations import open_secrets

    secret = _secret()
    for row_id, sealed, data in rows:
        secrets = open_secrets(secret, sealed)
        public = {**_json(data), **{k: v for k, v in secrets.items() if k != "bot_token"}}
        conn.execute(
            sa.text(f"UPDATE slack_installations SET bot_token = :token, data = {_json_param()} "
                    "WHERE id = :id"),
            {"token": secrets.get("bot_token"), "data": _dump(public), "id": row_id},
        )
