"""E-mail invitations for calendars that cannot invite: iCalendar objects (``ical``),
default templates (``templates/``) and an SMTP sender (``smtp``).

Rendering and composing the messages is a use case and lives in
``services.invitations``; nothing in this package touches the database.
"""
