"""Running and following executions: starting one and reading its history (``executions``), its progress as people
read it (``progress``, ``live_view``), and the path it took (``path``)."""
