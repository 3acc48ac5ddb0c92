"""HTTP as the bridge speaks it: the client (urllib3), the host scope a page may send the crawl to, request signing."""
