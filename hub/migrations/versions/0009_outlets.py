"""Sales outlets: quotas, sales, cancellations, invoices; series sales rules (limits, transfers, phone
binding) and ticket transfers.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24 03:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('outlets',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('ticket_transfers',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('idempotency_key', sa.String(length=160), nullable=False),
    sa.Column('series_id', sa.BigInteger(), nullable=False),
    sa.Column('old_ref', sa.String(length=80), nullable=False),
    sa.Column('new_ref', sa.String(length=80), nullable=False),
    sa.Column('from_customer', sa.String(length=64), nullable=False),
    sa.Column('to_customer', sa.String(length=64), nullable=False),
    sa.Column('by_role', sa.String(length=16), nullable=False),
    sa.Column('by_device', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('idempotency_key'),
    sa.UniqueConstraint('old_ref')
    )
    op.create_index('ix_ticket_transfers_series_at', 'ticket_transfers', ['series_id', 'at'], unique=False)
    op.create_table('outlet_assignments',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('outlet_id', sa.String(length=64), nullable=False),
    sa.Column('series_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('quota', sa.Integer(), nullable=False),
    sa.Column('sold', sa.Integer(), nullable=False),
    sa.Column('price', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['outlet_id'], ['outlets.id'], ),
    sa.ForeignKeyConstraint(['series_id'], ['series.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('outlet_id', 'series_id', name='uq_outlet_series')
    )
    op.create_table('outlet_invoices',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('outlet_id', sa.String(length=64), nullable=False),
    sa.Column('idempotency_key', sa.String(length=160), nullable=False),
    sa.Column('until', sa.DateTime(timezone=True), nullable=False),
    sa.Column('total', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('item_count', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['outlet_id'], ['outlets.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('outlet_id', 'idempotency_key', name='uq_outlet_invoices_key')
    )
    op.create_index(op.f('ix_outlet_invoices_outlet_id'), 'outlet_invoices', ['outlet_id'], unique=False)
    op.create_table('outlet_sales',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('outlet_id', sa.String(length=64), nullable=False),
    sa.Column('series_id', sa.BigInteger(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=160), nullable=False),
    sa.Column('qty', sa.Integer(), nullable=False),
    sa.Column('unit_price', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('customer_id', sa.String(length=32), nullable=True),
    sa.Column('paid_now', sa.Boolean(), nullable=False),
    sa.Column('refs', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['outlet_id'], ['outlets.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('outlet_id', 'idempotency_key', name='uq_outlet_sales_key')
    )
    op.create_index('ix_outlet_sales_outlet_created', 'outlet_sales', ['outlet_id', 'created_at'], unique=False)
    op.create_table('series_sales_rules',
    sa.Column('series_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('per_order_limit', sa.Integer(), nullable=True),
    sa.Column('per_customer_limit', sa.Integer(), nullable=True),
    sa.Column('transferable', sa.Boolean(), nullable=False),
    sa.Column('bound_to_phone', sa.Boolean(), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['series_id'], ['series.id'], ),
    sa.PrimaryKeyConstraint('series_id')
    )
    op.create_table('outlet_sale_cancellations',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('sale_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('by_role', sa.String(length=16), nullable=False),
    sa.Column('by_device', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['sale_id'], ['outlet_sales.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('sale_id')
    )
    op.create_table('outlet_invoice_items',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('invoice_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('sale_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.ForeignKeyConstraint(['invoice_id'], ['outlet_invoices.id'], ),
    sa.ForeignKeyConstraint(['sale_id'], ['outlet_sales.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('sale_id')
    )
    op.create_index(op.f('ix_outlet_invoice_items_invoice_id'), 'outlet_invoice_items', ['invoice_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_outlet_invoice_items_invoice_id'), table_name='outlet_invoice_items')
    op.drop_table('outlet_invoice_items')
    op.drop_table('outlet_sale_cancellations')
    op.drop_table('series_sales_rules')
    op.drop_index('ix_outlet_sales_outlet_created', table_name='outlet_sales')
    op.drop_table('outlet_sales')
    op.drop_index(op.f('ix_outlet_invoices_outlet_id'), table_name='outlet_invoices')
    op.drop_table('outlet_invoices')
    op.drop_table('outlet_assignments')
    op.drop_index('ix_ticket_transfers_series_at', table_name='ticket_transfers')
    op.drop_table('ticket_transfers')
    op.drop_table('outlets')
