"""An index on codes.customer_id: the kiosk summary and the wallet page list a customer's codes
by it (without it each identify scanned the whole codes table).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24 03:45:00
"""
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('codes', schema=None) as batch_op:
        batch_op.create_index('ix_codes_customer', ['customer_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('codes', schema=None) as batch_op:
        batch_op.drop_index('ix_codes_customer')
