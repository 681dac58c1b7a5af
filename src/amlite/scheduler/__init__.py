"""Claims queued jobs by priority within capacity, starts them, and reconciles what runs."""
