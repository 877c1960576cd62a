"""What goes wrong on AWS, on purpose: injected faults (``injected``), chaos (``chaos``), read lag (``consistency``)."""
