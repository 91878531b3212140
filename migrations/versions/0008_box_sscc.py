"""box SSCC from a database counter

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # SSCC serial references were handed out from a JSON file in instance/ on a label GET: one
    # process only and outside the audit trail. The counter is a row per extension digit and
    # company prefix, taken in the transaction that opens the box, and the box keeps its SSCC.
    op.create_table('sscc_counter',
    sa.Column('prefix', sqlmodel.sql.sqltypes.AutoString(length=13), nullable=False),
    sa.Column('last_reference', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('prefix')
    )
    with op.batch_alter_table('box', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sscc', sqlmodel.sql.sqltypes.AutoString(length=18),
                                      nullable=True))
        batch_op.create_index(batch_op.f('ix_box_sscc'), ['sscc'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('box', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_box_sscc'))
        batch_op.drop_column('sscc')

    op.drop_table('sscc_counter')
