"""TypedDicts of the Microsoft Graph and identity-platform JSON we send and read.

Only the fields hiresync uses are declared; Graph adds properties over time and
TypedDicts do not reject extra keys, so new fields never break parsing. Names are
Graph's own (camelCase) so a reader can check them against the docs and the specs
in ``shared/specs/``.
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

FreeBusyStatusWire = Literal["free", "tentative", "busy", "oof", "workingElsewhere", "unknown"]


class DateTimeTimeZone(TypedDict):
    """Graph ``dateTimeTimeZone``: a wall-clock time plus the zone it is in."""

    dateTime: str
    timeZone: NotRequired[str]


class GraphErrorBody(TypedDict):
    code: str
    message: NotRequired[str]
    innerError: NotRequired[dict[str, object]]


class GraphErrorResponse(TypedDict):
    error: GraphErrorBody


class UserWire(TypedDict):
    """A ``user`` as returned with our ``$select``."""

    id: str
    displayName: NotRequired[str | None]
    mail: NotRequired[str | None]
    userPrincipalName: NotRequired[str | None]
    proxyAddresses: NotRequired[list[str]]
    accountEnabled: NotRequired[bool | None]


class UserPage(TypedDict):
    value: list[UserWire]


class TimeZoneBase(TypedDict):
    """``timeZoneBase`` / ``customTimeZone``: custom zones carry ``bias`` in minutes."""

    name: NotRequired[str]
    bias: NotRequired[int]


class WorkingHoursWire(TypedDict):
    daysOfWeek: NotRequired[list[str]]
    startTime: NotRequired[str]
    endTime: NotRequired[str]
    timeZone: NotRequired[TimeZoneBase]


class ScheduleItemWire(TypedDict):
    start: DateTimeTimeZone
    end: DateTimeTimeZone
    status: NotRequired[FreeBusyStatusWire]
    isPrivate: NotRequired[bool]
    subject: NotRequired[str | None]
    location: NotRequired[str | None]


class FreeBusyErrorWire(TypedDict):
    message: NotRequired[str]
    responseCode: NotRequired[str]


class ScheduleInformationWire(TypedDict):
    scheduleId: str
    availabilityView: NotRequired[str]
    scheduleItems: NotRequired[list[ScheduleItemWire]]
    workingHours: NotRequired[WorkingHoursWire]
    error: NotRequired[FreeBusyErrorWire]


class GetScheduleRequest(TypedDict):
    """Body of ``POST /users/{id}/calendar/getSchedule`` (camelCase, as the docs spell it)."""

    schedules: list[str]
    startTime: DateTimeTimeZone
    endTime: DateTimeTimeZone
    availabilityViewInterval: int


class GetScheduleResponse(TypedDict):
    value: list[ScheduleInformationWire]


class EventWire(TypedDict):
    """An ``event`` as read from ``calendarView`` or its delta (subset)."""

    id: str
    subject: NotRequired[str | None]
    start: NotRequired[DateTimeTimeZone]
    end: NotRequired[DateTimeTimeZone]
    isAllDay: NotRequired[bool]
    showAs: NotRequired[FreeBusyStatusWire]
    sensitivity: NotRequired[str]
    iCalUId: NotRequired[str]
    isCancelled: NotRequired[bool]
    type: NotRequired[Literal["singleInstance", "occurrence", "exception", "seriesMaster"]]
    seriesMasterId: NotRequired[str | None]
    changeKey: NotRequired[str]
    lastModifiedDateTime: NotRequired[str]


class RemovedWire(TypedDict):
    """The ``@removed`` annotation of a delta item (``deleted``; directory objects: ``changed``)."""

    reason: str


# A delta item is an event, or ``{"id": …, "@removed": {"reason": "deleted"}}``; the
# annotation names are not identifiers, hence the functional syntax.
DeltaItemWire = TypedDict(
    "DeltaItemWire",
    {"id": str, "@removed": NotRequired[RemovedWire], "@odata.type": NotRequired[str]},
)
DeltaPageWire = TypedDict(
    "DeltaPageWire",
    {
        "value": list[DeltaItemWire],
        "@odata.nextLink": NotRequired[str],
        "@odata.deltaLink": NotRequired[str],
    },
)


class SubscriptionRequest(TypedDict):
    """Body of ``POST /subscriptions`` (Graph's names; ``changeType`` is a comma list)."""

    changeType: str
    notificationUrl: str
    resource: str
    expirationDateTime: str
    clientState: str
    lifecycleNotificationUrl: NotRequired[str]
    latestSupportedTlsVersion: NotRequired[str]


class SubscriptionWire(TypedDict):
    """A ``subscription`` as Graph returns it."""

    id: str
    resource: str
    changeType: str
    notificationUrl: str
    expirationDateTime: str
    clientState: NotRequired[str | None]
    lifecycleNotificationUrl: NotRequired[str | None]
    applicationId: NotRequired[str | None]
    creatorId: NotRequired[str | None]


ResourceDataWire = TypedDict(
    "ResourceDataWire",
    {
        "@odata.type": NotRequired[str],
        "@odata.id": NotRequired[str],
        "@odata.etag": NotRequired[str],
        "id": NotRequired[str],
    },
)


class ChangeNotificationWire(TypedDict):
    """One item of a notification POST: a change, or a lifecycle event."""

    subscriptionId: str
    subscriptionExpirationDateTime: NotRequired[str]
    tenantId: NotRequired[str]
    clientState: NotRequired[str | None]
    changeType: NotRequired[Literal["created", "updated", "deleted"]]
    resource: NotRequired[str]
    resourceData: NotRequired[ResourceDataWire]
    lifecycleEvent: NotRequired[Literal["reauthorizationRequired", "subscriptionRemoved", "missed"]]


class ChangeNotificationCollectionWire(TypedDict):
    """The body Graph POSTs to a notification or lifecycle URL."""

    value: list[ChangeNotificationWire]


class OpenIdConfiguration(TypedDict):
    """The parts of a tenant's OpenID configuration that reveal its cloud."""

    issuer: str
    token_endpoint: str
    authorization_endpoint: NotRequired[str]
    tenant_region_scope: NotRequired[str | None]
    tenant_region_sub_scope: NotRequired[str | None]
    cloud_instance_name: NotRequired[str | None]
    cloud_graph_host_name: NotRequired[str | None]
    msgraph_host: NotRequired[str | None]


class TokenResult(TypedDict):
    """What MSAL's ``acquire_token_for_client`` returns (success or error)."""

    access_token: NotRequired[str]
    token_type: NotRequired[str]
    expires_in: NotRequired[int]
    error: NotRequired[str]
    error_description: NotRequired[str]
    error_codes: NotRequired[list[int]]
