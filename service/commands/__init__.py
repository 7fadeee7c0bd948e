"""The write side. Commands are named, typed values, each with one handler, all run by
`execute`; the handlers work through the eventsourcing application (application.py) and the
services it is composed with: billing operations (payments as intent then effect), alert
checks, usage ingest, invoice numbers, phone numbers, group commit and lost-race retries.

Importing the package registers every handler (each feature module registers its own).
"""

from service.commands import (
    alerts,
    billing,
    credit_notes,
    lines,
    partners,
    sub_accounts,
    tax,
    usage,
    webhooks,
)
from service.commands.base import Command, CommandRunner, Services, command_types
from service.commands.execute import execute

__all__ = ["Command", "CommandRunner", "Services", "alerts", "billing", "command_types",
           "credit_notes",
           "execute", "lines", "partners", "sub_accounts", "tax", "usage", "webhooks"]
