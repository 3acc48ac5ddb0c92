"""The long-running process: the daemon and its jobs, the lock, systemd notify, the web server (health, metrics, admin pages), logs and notifications."""
