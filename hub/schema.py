"""Every table of the hub, registered on one metadata.

Each feature keeps its tables in its own models module; this is the one place that imports them
all, for the migrations and for the check that migrations and models agree.
"""

from __future__ import annotations

import hub.loyalty.earn_models
import hub.loyalty.gift_models
import hub.loyalty.limit_models
import hub.loyalty.models
import hub.notify.models
import hub.ops.models
import hub.outlets.models
import hub.wallet.models  # noqa: F401
from hub.models import Base

metadata = Base.metadata
