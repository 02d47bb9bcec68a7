"""hiresync: calendar, contacts and video-meeting integrations for hiring platforms."""

__version__ = "0.1.0"
