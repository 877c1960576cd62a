"""The CLI: the command group and ``main``, which maps errors to exit codes (``commands``); the words people read
(``words``, which following a run uses too, so importing this package loads neither click nor a command)."""
