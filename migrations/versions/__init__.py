"""One module per revision, oldest first by its numbered file name."""
