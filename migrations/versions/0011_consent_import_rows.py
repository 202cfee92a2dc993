"""consent import rows: counter-consent file rows already imported, keyed by content

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 10:00:00

Before 0011 a consent file was skipped whole when its digest had been imported. From 0011 each row is
skipped by its content, so the rows of files imported before are keyed from the events they wrote
(grouped by their `file:digest:line` reference). A withdrawal that wrote nothing left no event and
gets no key; importing it again writes nothing unless the resident has granted since.
"""
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('consent_import_rows',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('import_id', sa.Integer(), nullable=True),
    sa.Column('line', sa.Integer(), nullable=True),
    sa.Column('row_key', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['import_id'], ['import_runs.id'],
                            name=op.f('fk_consent_import_rows_import_id_import_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_import_rows')),
    sa.UniqueConstraint('row_key', name='uq_consent_import_rows_row_key')
    )
    _key_earlier_imports()


def _key_earlier_imports() -> None:
    # The key's form is notifier.consent.importer.row_keys' (copied: a migration must not change with the app).
    conn = op.get_bind()
    rows = conn.execute(sa.text(
        "SELECT reference, atena_no, action, scope, occurred_at, channel, staff_id FROM consent_events "
        "WHERE channel IN ('窓口', 'CSW') AND reference LIKE '%:%:%' ORDER BY id")).all()
    files: dict[str, dict] = {}
    for ref, atena, action, scope, when, channel, staff in rows:
        head, _, line = ref.rpartition(":")
        if not line.isdigit() or len(head.rpartition(":")[2]) != 16:
            continue
        if isinstance(when, str):
            when = datetime.fromisoformat(when)
        row = files.setdefault(ref, {"line": int(line), "atena": atena, "action": action, "scopes": set(),
                                     "when": when, "channel": channel, "staff": staff or ""})
        row["scopes"].add(scope)
    keys = {}
    for row in files.values():
        scopes = row["scopes"]
        if row["action"] == "withdraw" and "notify" in scopes:
            scopes = {"notify", "tax"}                   # withdrawing notify withdraws tax
        text = ";".join(s for s in ("notify", "tax") if s in scopes)
        key = "|".join([row["atena"], row["action"], text, row["when"].strftime("%Y-%m-%dT%H:%M:%S.%f"),
                        row["channel"], row["staff"]])
        keys.setdefault(key, row["line"])
    if keys:
        table = sa.table('consent_import_rows', sa.column('line', sa.Integer), sa.column('row_key', sa.String))
        op.bulk_insert(table, [{"line": line, "row_key": key} for key, line in keys.items()])


def downgrade() -> None:
    op.drop_table('consent_import_rows')
