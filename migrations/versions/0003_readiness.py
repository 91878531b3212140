"""readiness: data packages, stencils, pcb lots

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('data_package',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('report', sa.JSON(), nullable=False),
    sa.Column('complete', sa.Boolean(), nullable=False),
    sa.Column('ready', sa.Boolean(), nullable=False),
    sa.Column('files', sa.JSON(), nullable=False),
    sa.Column('panel', sa.JSON(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('data_package', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_data_package_product_id'), ['product_id'], unique=False)

    op.create_table('pcb_lot',
    sa.Column('lot', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('opened_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('floor_life_hours', sa.Float(), nullable=True),
    sa.Column('baked_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], ),
    sa.PrimaryKeyConstraint('lot')
    )
    with op.batch_alter_table('pcb_lot', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pcb_lot_product_id'), ['product_id'], unique=False)

    op.create_table('stencil',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('side', sqlmodel.sql.sqltypes.AutoString(length=6), nullable=False),
    sa.Column('thickness_um', sa.Integer(), nullable=True),
    sa.Column('life_prints', sa.Integer(), nullable=False),
    sa.Column('clean_interval_prints', sa.Integer(), nullable=False),
    sa.Column('prints', sa.Integer(), nullable=False),
    sa.Column('prints_at_clean', sa.Integer(), nullable=False),
    sa.Column('damaged', sa.Boolean(), nullable=False),
    sa.Column('retired_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('stencil', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stencil_product_id'), ['product_id'], unique=False)

    op.create_table('stencil_check',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('stencil_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('readings', sa.JSON(), nullable=True),
    sa.Column('passed', sa.Boolean(), nullable=False),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('prints', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['stencil_id'], ['stencil.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('stencil_check', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stencil_check_stencil_id'), ['stencil_id'], unique=False)

    op.create_table('pcb_allocation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lot', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['lot'], ['pcb_lot.lot'], ),
    sa.ForeignKeyConstraint(['order_id'], ['work_order.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('pcb_allocation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pcb_allocation_lot'), ['lot'], unique=False)
        batch_op.create_index(batch_op.f('ix_pcb_allocation_order_id'), ['order_id'], unique=False)

    with op.batch_alter_table('work_order', schema=None) as batch_op:
        batch_op.add_column(sa.Column('side', sqlmodel.sql.sqltypes.AutoString(length=6), nullable=False, server_default='top'))
        batch_op.add_column(sa.Column('stencil_id', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.create_foreign_key('fk_work_order_stencil', 'stencil', ['stencil_id'], ['id'])



def downgrade() -> None:
    with op.batch_alter_table('work_order', schema=None) as batch_op:
        batch_op.drop_constraint('fk_work_order_stencil', type_='foreignkey')
        batch_op.drop_column('stencil_id')
        batch_op.drop_column('side')

    with op.batch_alter_table('pcb_allocation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pcb_allocation_order_id'))
        batch_op.drop_index(batch_op.f('ix_pcb_allocation_lot'))

    op.drop_table('pcb_allocation')
    with op.batch_alter_table('stencil_check', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stencil_check_stencil_id'))

    op.drop_table('stencil_check')
    with op.batch_alter_table('stencil', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stencil_product_id'))

    op.drop_table('stencil')
    with op.batch_alter_table('pcb_lot', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pcb_lot_product_id'))

    op.drop_table('pcb_lot')
    with op.batch_alter_table('data_package', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_data_package_product_id'))

    op.drop_table('data_package')
