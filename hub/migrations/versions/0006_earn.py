"""More ways to earn: notifications queue, issuance campaigns, fiscal-check claims, campaign QR,
customer contacts and tags.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 03:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table('notify_messages',
    sa.Column('id', ID, nullable=False),
    sa.Column('idempotency_key', sa.String(length=160), nullable=False),
    sa.Column('customer_id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('channel', sa.String(length=8), nullable=False),
    sa.Column('recipient_masked', sa.String(length=80), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_at', TS, nullable=False),
    sa.Column('last_error', sa.String(length=300), nullable=True),
    sa.Column('created_at', TS, nullable=False),
    sa.Column('sent_at', TS, nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('idempotency_key')
    )
    op.create_index('ix_notify_due', 'notify_messages', ['status', 'next_at'], unique=False)
    op.create_index(op.f('ix_notify_messages_customer_id'), 'notify_messages', ['customer_id'], unique=False)
    op.create_table('notify_attachments',
    sa.Column('id', ID, nullable=False),
    sa.Column('message_id', ID, nullable=False),
    sa.Column('filename', sa.String(length=120), nullable=False),
    sa.Column('content_type', sa.String(length=80), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['notify_messages.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_notify_attachments_message_id'), 'notify_attachments', ['message_id'], unique=False)
    op.create_table('notify_attempts',
    sa.Column('id', ID, nullable=False),
    sa.Column('message_id', ID, nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('at', TS, nullable=False),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('error', sa.String(length=300), nullable=True),
    sa.ForeignKeyConstraint(['message_id'], ['notify_messages.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_notify_attempts_message_id'), 'notify_attempts', ['message_id'], unique=False)
    op.create_table('loyalty_contacts',
    sa.Column('customer_id', sa.String(length=32), nullable=False),
    sa.Column('email_enc', sa.LargeBinary(), nullable=True),
    sa.Column('email_masked', sa.String(length=120), nullable=True),
    sa.Column('changed_at', TS, nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['loyalty_customers.id'], ),
    sa.PrimaryKeyConstraint('customer_id')
    )
    op.create_table('loyalty_customer_tags',
    sa.Column('customer_id', sa.String(length=32), nullable=False),
    sa.Column('tag', sa.String(length=40), nullable=False),
    sa.Column('created_at', TS, nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['loyalty_customers.id'], ),
    sa.PrimaryKeyConstraint('customer_id', 'tag')
    )
    op.create_index(op.f('ix_loyalty_customer_tags_tag'), 'loyalty_customer_tags', ['tag'], unique=False)
    op.create_table('loyalty_campaigns',
    sa.Column('id', ID, nullable=False),
    sa.Column('business_id', ID, nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('series_id', ID, nullable=False),
    sa.Column('filter', sa.JSON(), nullable=False),
    sa.Column('notify', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('valid_until', TS, nullable=True),
    sa.Column('created_at', TS, nullable=False),
    sa.ForeignKeyConstraint(['business_id'], ['loyalty_businesses.id'], ),
    sa.ForeignKeyConstraint(['series_id'], ['series.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_loyalty_campaigns_business_id'), 'loyalty_campaigns', ['business_id'], unique=False)
    op.create_table('loyalty_campaign_issues',
    sa.Column('id', ID, nullable=False),
    sa.Column('campaign_id', ID, nullable=False),
    sa.Column('subject', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.String(length=32), nullable=False),
    sa.Column('code_ref', sa.String(length=80), nullable=False),
    sa.Column('at', TS, nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['loyalty_campaigns.id'], ),
    sa.ForeignKeyConstraint(['customer_id'], ['loyalty_customers.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('campaign_id', 'subject', name='uq_campaign_issue_subject')
    )
    op.create_index(op.f('ix_loyalty_campaign_issues_customer_id'), 'loyalty_campaign_issues', ['customer_id'], unique=False)
    op.create_table('loyalty_fiscal_claims',
    sa.Column('id', ID, nullable=False),
    sa.Column('fiscal_key', sa.String(length=200), nullable=False),
    sa.Column('business_id', ID, nullable=False),
    sa.Column('customer_id', sa.String(length=32), nullable=False),
    sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('device', sa.String(length=64), nullable=False),
    sa.Column('idempotency_key', sa.String(length=160), nullable=False),
    sa.Column('claimed_at', TS, nullable=False),
    sa.ForeignKeyConstraint(['business_id'], ['loyalty_businesses.id'], ),
    sa.ForeignKeyConstraint(['customer_id'], ['loyalty_customers.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('fiscal_key')
    )
    op.create_index(op.f('ix_loyalty_fiscal_claims_business_id'), 'loyalty_fiscal_claims', ['business_id'], unique=False)
    op.create_index(op.f('ix_loyalty_fiscal_claims_customer_id'), 'loyalty_fiscal_claims', ['customer_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_loyalty_fiscal_claims_customer_id'), table_name='loyalty_fiscal_claims')
    op.drop_index(op.f('ix_loyalty_fiscal_claims_business_id'), table_name='loyalty_fiscal_claims')
    op.drop_table('loyalty_fiscal_claims')
    op.drop_index(op.f('ix_loyalty_campaign_issues_customer_id'), table_name='loyalty_campaign_issues')
    op.drop_table('loyalty_campaign_issues')
    op.drop_index(op.f('ix_loyalty_campaigns_business_id'), table_name='loyalty_campaigns')
    op.drop_table('loyalty_campaigns')
    op.drop_index(op.f('ix_loyalty_customer_tags_tag'), table_name='loyalty_customer_tags')
    op.drop_table('loyalty_customer_tags')
    op.drop_table('loyalty_contacts')
    op.drop_index(op.f('ix_notify_attempts_message_id'), table_name='notify_attempts')
    op.drop_table('notify_attempts')
    op.drop_index(op.f('ix_notify_attachments_message_id'), table_name='notify_attachments')
    op.drop_table('notify_attachments')
    op.drop_index(op.f('ix_notify_messages_customer_id'), table_name='notify_messages')
    op.drop_index('ix_notify_due', table_name='notify_messages')
    op.drop_table('notify_messages')
