"""data package files kept for the board picture

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The board picture is drawn from the uploaded Gerber zip and centroid; the data package row
    # kept only their hashes. Packages checked before this revision have no files: no picture.
    op.create_table('data_package_file',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('package_id', sa.Integer(), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['package_id'], ['data_package.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('package_id', 'role')
    )
    with op.batch_alter_table('data_package_file', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_data_package_file_package_id'), ['package_id'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('data_package_file', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_data_package_file_package_id'))

    op.drop_table('data_package_file')
