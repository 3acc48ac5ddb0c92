"""A poll cycle: list each column, fetch what is new or changed, normalize it and record it in the state store (with the outbox rows delivery takes)."""
