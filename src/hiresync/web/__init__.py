"""Server-rendered pages for admins, recruiters and interviewers (Jinja2)."""
