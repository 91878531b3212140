"""a station's rows by time (steps, tests) and by id (events, its operator's states), any size

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

STATE_SET = "kind = 'station.state_set'"


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The state snapshot and the scan screen read one station's newest rows and its shift's
    # counts. On an index of station_id alone (or none, for tests) they read the station's
    # whole history: with 100,000 boards behind it a snapshot took 40-100 ms instead of 2.
    # Only test_attempt gains an index; the others replace single-column ones. The kind index
    # served only the operator's latest state of a station: a partial index over those few
    # events does it (queried with the same literal, or it cannot be used).
    with op.batch_alter_table('board_step', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_board_step_station_id'))
        batch_op.create_index('ix_board_step_station_id_at', ['station_id', 'at'], unique=False)
    with op.batch_alter_table('test_attempt', schema=None) as batch_op:
        batch_op.create_index('ix_test_attempt_station_id_at', ['station_id', 'at'],
                              unique=False)
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_event_station_id'))
        batch_op.create_index('ix_event_station_id_id', ['station_id', 'id'], unique=False)
        batch_op.drop_index(batch_op.f('ix_event_kind'))
        batch_op.create_index('ix_event_state_set', ['station_id', 'id'], unique=False,
                              sqlite_where=sa.text(STATE_SET),
                              postgresql_where=sa.text(STATE_SET))


def downgrade() -> None:
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.drop_index('ix_event_state_set')
        batch_op.create_index(batch_op.f('ix_event_kind'), ['kind'], unique=False)
        batch_op.drop_index('ix_event_station_id_id')
        batch_op.create_index(batch_op.f('ix_event_station_id'), ['station_id'], unique=False)
    with op.batch_alter_table('test_attempt', schema=None) as batch_op:
        batch_op.drop_index('ix_test_attempt_station_id_at')
    with op.batch_alter_table('board_step', schema=None) as batch_op:
        batch_op.drop_index('ix_board_step_station_id_at')
        batch_op.create_index(batch_op.f('ix_board_step_station_id'), ['station_id'],
                              unique=False)
