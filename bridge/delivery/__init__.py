"""From the outbox to the targets: the drain that claims and sends, and the child process it may run in."""
