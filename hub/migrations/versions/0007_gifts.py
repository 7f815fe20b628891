"""Gifts and passes: lottery, gift sets, prepaid top-ups, passes, tickets sold through the catalog.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 03:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('loyalty_lotteries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('business_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('text', sa.String(length=500), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['business_id'], ['loyalty_businesses.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('loyalty_lotteries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_loyalty_lotteries_business_id'), ['business_id'], unique=False)

    op.create_table('loyalty_giftsets',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('business_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['business_id'], ['loyalty_businesses.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('loyalty_giftsets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_loyalty_giftsets_business_id'), ['business_id'], unique=False)

    op.create_table('loyalty_gift_codes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('owner_id', sa.BigInteger(), nullable=False),
    sa.Column('business_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('customer_id', sa.String(length=32), nullable=True),
    sa.Column('prize_id', sa.BigInteger(), nullable=True),
    sa.Column('answer', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['business_id'], ['loyalty_businesses.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    with op.batch_alter_table('loyalty_gift_codes', schema=None) as batch_op:
        batch_op.create_index('ix_gift_codes_owner', ['kind', 'owner_id'], unique=False)

    op.create_table('loyalty_lottery_prizes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('lottery_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('series_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('weight', sa.Integer(), nullable=True),
    sa.Column('remaining', sa.Integer(), nullable=True),
    sa.CheckConstraint('remaining >= 0', name='ck_prize_remaining'),
    sa.ForeignKeyConstraint(['lottery_id'], ['loyalty_lotteries.id'], ),
    sa.ForeignKeyConstraint(['series_id'], ['series.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('loyalty_lottery_prizes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_loyalty_lottery_prizes_lottery_id'), ['lottery_id'], unique=False)

    op.create_table('loyalty_giftset_lines',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('giftset_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('series_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['giftset_id'], ['loyalty_giftsets.id'], ),
    sa.ForeignKeyConstraint(['series_id'], ['series.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('loyalty_giftset_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_loyalty_giftset_lines_giftset_id'), ['giftset_id'], unique=False)

    op.create_table('loyalty_item_series',
    sa.Column('item_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('series_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['loyalty_items.id'], ),
    sa.ForeignKeyConstraint(['series_id'], ['series.id'], ),
    sa.PrimaryKeyConstraint('item_id')
    )

    op.create_table('loyalty_coupon_benefits',
    sa.Column('series_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('business_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('value', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('item_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.ForeignKeyConstraint(['business_id'], ['loyalty_businesses.id'], ),
    sa.ForeignKeyConstraint(['item_id'], ['loyalty_items.id'], ),
    sa.ForeignKeyConstraint(['series_id'], ['series.id'], ),
    sa.PrimaryKeyConstraint('series_id')
    )

    op.create_table('loyalty_check_extras',
    sa.Column('check_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('coupons', sa.JSON(), nullable=False),
    sa.Column('discount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('payable', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('payment', sa.String(length=16), nullable=True),
    sa.ForeignKeyConstraint(['check_id'], ['loyalty_checks.id'], ),
    sa.PrimaryKeyConstraint('check_id')
    )

    op.create_table('loyalty_ticket_sales',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('business_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('check_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('item_id', sa.BigInteger(), nullable=False),
    sa.Column('series_id', sa.BigInteger(), nullable=False),
    sa.Column('ref', sa.String(length=80), nullable=False),
    sa.Column('outlet', sa.String(length=64), nullable=False),
    sa.Column('price', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['business_id'], ['loyalty_businesses.id'], ),
    sa.ForeignKeyConstraint(['check_id'], ['loyalty_checks.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('ref')
    )
    with op.batch_alter_table('loyalty_ticket_sales', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_loyalty_ticket_sales_check_id'), ['check_id'], unique=False)
        batch_op.create_index('ix_ticket_sales_business_at', ['business_id', 'at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('loyalty_ticket_sales', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_loyalty_ticket_sales_check_id'))
        batch_op.drop_index('ix_ticket_sales_business_at')
    op.drop_table('loyalty_ticket_sales')
    op.drop_table('loyalty_check_extras')
    op.drop_table('loyalty_coupon_benefits')
    op.drop_table('loyalty_item_series')
    with op.batch_alter_table('loyalty_giftset_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_loyalty_giftset_lines_giftset_id'))
    op.drop_table('loyalty_giftset_lines')
    with op.batch_alter_table('loyalty_lottery_prizes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_loyalty_lottery_prizes_lottery_id'))
    op.drop_table('loyalty_lottery_prizes')
    with op.batch_alter_table('loyalty_gift_codes', schema=None) as batch_op:
        batch_op.drop_index('ix_gift_codes_owner')
    op.drop_table('loyalty_gift_codes')
    with op.batch_alter_table('loyalty_giftsets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_loyalty_giftsets_business_id'))
    op.drop_table('loyalty_giftsets')
    with op.batch_alter_table('loyalty_lotteries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_loyalty_lotteries_business_id'))
    op.drop_table('loyalty_lotteries')
