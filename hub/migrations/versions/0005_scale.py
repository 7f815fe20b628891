"""Scale-out: state that hub replicas share (rate-limit windows) kept in the database.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 03:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('rate_windows',
    sa.Column('scope', sa.String(length=32), nullable=False),
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('window_start', sa.BigInteger(), nullable=False),
    sa.Column('hits', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('scope', 'key', 'window_start')
    )
    with op.batch_alter_table('rate_windows', schema=None) as batch_op:
        batch_op.create_index('ix_rate_windows_scope_start', ['scope', 'window_start'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('rate_windows', schema=None) as batch_op:
        batch_op.drop_index('ix_rate_windows_scope_start')

    op.drop_table('rate_windows')
