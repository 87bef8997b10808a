"""Readers and writers for the file formats a study arrives in and leaves as."""
