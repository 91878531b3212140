"""material on the line: feeder setups, reels, feeder loads, board materials

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Issue 16: which reel fed which board. Board materials are looked up by reel, lot and
    # part for a trace (100,000 boards in under a second), and by board for its page.
    op.create_table('reel',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('part', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('initial_quantity', sa.Integer(), nullable=False),
    sa.Column('lot', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('date_code', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('msl', sqlmodel.sql.sqltypes.AutoString(length=4), nullable=True),
    sa.Column('opened_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('floor_used_s', sa.Float(), nullable=False),
    sa.Column('exposed_since', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('baked_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('reel', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reel_lot'), ['lot'], unique=False)
        batch_op.create_index(batch_op.f('ix_reel_part'), ['part'], unique=False)

    op.create_table('feeder_setup',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('step', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('product_id', 'step')
    )
    with op.batch_alter_table('feeder_setup', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_feeder_setup_product_id'), ['product_id'], unique=False)

    op.create_table('feeder_slot',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('setup_id', sa.Integer(), nullable=False),
    sa.Column('slot', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('part', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('alternates', sa.JSON(), nullable=False),
    sa.Column('designators', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['setup_id'], ['feeder_setup.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('setup_id', 'slot')
    )
    with op.batch_alter_table('feeder_slot', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_feeder_slot_setup_id'), ['setup_id'], unique=False)

    op.create_table('feeder_load',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('station_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('slot', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('reel_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('verdict', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('loaded_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('unloaded_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['order_id'], ['work_order.id'], ),
    sa.ForeignKeyConstraint(['reel_id'], ['reel.id'], ),
    sa.ForeignKeyConstraint(['station_id'], ['station.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('feeder_load', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_feeder_load_order_id'), ['order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_feeder_load_reel_id'), ['reel_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_feeder_load_station_id'), ['station_id'], unique=False)

    op.create_table('board_material',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('board_id', sa.Integer(), nullable=False),
    sa.Column('step', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('slot', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('part', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('reel_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('lot', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('date_code', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('designators', sa.JSON(), nullable=False),
    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['board_id'], ['board.id'], ),
    sa.ForeignKeyConstraint(['reel_id'], ['reel.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('board_material', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_board_material_board_id'), ['board_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_board_material_lot'), ['lot'], unique=False)
        batch_op.create_index(batch_op.f('ix_board_material_part'), ['part'], unique=False)
        batch_op.create_index(batch_op.f('ix_board_material_reel_id'), ['reel_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('board_material', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_board_material_reel_id'))
        batch_op.drop_index(batch_op.f('ix_board_material_part'))
        batch_op.drop_index(batch_op.f('ix_board_material_lot'))
        batch_op.drop_index(batch_op.f('ix_board_material_board_id'))

    op.drop_table('board_material')
    with op.batch_alter_table('feeder_load', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feeder_load_station_id'))
        batch_op.drop_index(batch_op.f('ix_feeder_load_reel_id'))
        batch_op.drop_index(batch_op.f('ix_feeder_load_order_id'))

    op.drop_table('feeder_load')
    with op.batch_alter_table('feeder_slot', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feeder_slot_setup_id'))

    op.drop_table('feeder_slot')
    with op.batch_alter_table('feeder_setup', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feeder_setup_product_id'))

    op.drop_table('feeder_setup')
    with op.batch_alter_table('reel', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reel_part'))
        batch_op.drop_index(batch_op.f('ix_reel_lot'))

    op.drop_table('reel')
