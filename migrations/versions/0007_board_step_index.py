"""drop the board_step index on board_id alone

Revision ID: 0007
Revises: 0006
"""

from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # UNIQUE (board_id, step_index) already serves every lookup by board_id; the index on
    # board_id alone only cost a B-tree insert and a WAL page on every step passed.
    with op.batch_alter_table('board_step', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_board_step_board_id'))


def downgrade() -> None:
    with op.batch_alter_table('board_step', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_board_step_board_id'), ['board_id'], unique=False)
