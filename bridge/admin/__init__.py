"""What an operator asks of the bridge: reconciliation with the portal, the online check, the admin pages and the annual report."""
