"""profile boards and runs

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('profile_board',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('thermocouples', sa.Integer(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('profile_board', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_profile_board_product_id'), ['product_id'], unique=False)

    op.create_table('profile_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('profile_board_id', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('paste', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('window_version', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('oven', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('recipe', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('format', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('raw', sa.Text(), nullable=False),
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('verdict', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('pwi', sa.Float(), nullable=True),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['profile_board_id'], ['profile_board.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('profile_run', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_profile_run_oven'), ['oven'], unique=False)
        batch_op.create_index(batch_op.f('ix_profile_run_profile_board_id'), ['profile_board_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_profile_run_recorded_at'), ['recorded_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_profile_run_verdict'), ['verdict'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('profile_run', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_profile_run_verdict'))
        batch_op.drop_index(batch_op.f('ix_profile_run_recorded_at'))
        batch_op.drop_index(batch_op.f('ix_profile_run_profile_board_id'))
        batch_op.drop_index(batch_op.f('ix_profile_run_oven'))

    op.drop_table('profile_run')
    with op.batch_alter_table('profile_board', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_profile_board_product_id'))

    op.drop_table('profile_board')
