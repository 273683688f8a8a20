"""The server side of automations: the dispatcher that delivers what automations owe events.

Planning (which deliveries an event causes) happens in the event's own transaction, in
inloop.server.store.deliveries; this package sends them: `dispatcher` claims and retries,
`actions` does each kind of action, `templates` renders notifications.
"""
