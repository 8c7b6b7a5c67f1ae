"""appwright.steps: the nine phases of a build, each declared like the seed's step page."""

from .base import Action, ActionContext, ActionFailed, Backend, Phase, Step, VerifyFailed
from .create_tables import CREATE_TABLES
from .deploy import DEPLOY
from .feedback import FEEDBACK
from .plan import PLAN
from .platforms import PLATFORMS, for_platform, skip_reason
from .provision import PROVISION
from .rls import RLS
from .seed import SEED
from .site import SITE
from .subdomain import SUBDOMAIN

STEPS: tuple[Step, ...] = (PLAN, PROVISION, CREATE_TABLES, SEED, RLS, SITE, DEPLOY, SUBDOMAIN, FEEDBACK)
"""The route, in order."""

__all__ = [
    "STEPS", "PLATFORMS", "for_platform", "skip_reason", "Action", "ActionContext", "ActionFailed", "Backend", "Phase", "Step", "VerifyFailed",
    "PLAN", "PROVISION", "CREATE_TABLES", "SEED", "RLS", "SITE", "DEPLOY", "SUBDOMAIN", "FEEDBACK",
]
