"""REST API v1 (``/v1``): what a hiring platform's engineers call with an API key."""

from fastapi import APIRouter

from hiresync.api.v1 import (
    availability,
    calendar_events,
    calendar_sync,
    connections,
    email_templates,
    freebusy,
    interviews,
    users,
    webhooks,
)

router = APIRouter(prefix="/v1")
router.include_router(users.router)
router.include_router(connections.router)
router.include_router(freebusy.router)
router.include_router(availability.router)
router.include_router(interviews.router)
router.include_router(webhooks.router)
router.include_router(email_templates.router)
router.include_router(calendar_sync.router)
router.include_router(calendar_events.router)
