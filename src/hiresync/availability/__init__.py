"""The availability engine: free slots for interview panels, loops and explanations.

Pure: values in, values out, no I/O and no clock (``now`` is an argument).
"""

from hiresync.availability.model import (
    AvailabilityError,
    AvailabilityQuery,
    Booked,
    Busy,
    Capacity,
    Group,
    InvalidQuery,
    Mode,
    Period,
    Person,
    Policy,
    Response,
    Rules,
    Slot,
    TimeRange,
    WorkingWeek,
)
from hiresync.availability.solver import find_availability

__all__ = [
    "AvailabilityError",
    "AvailabilityQuery",
    "Booked",
    "Busy",
    "Capacity",
    "Group",
    "InvalidQuery",
    "Mode",
    "Period",
    "Person",
    "Policy",
    "Response",
    "Rules",
    "Slot",
    "TimeRange",
    "WorkingWeek",
    "find_availability",
]
