"""Robot kinds: one module per kind, the file name is the persisted `kind` key."""
