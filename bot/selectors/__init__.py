"""Reads: query functions the console (and others) call; nothing here writes."""
