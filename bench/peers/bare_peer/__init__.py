"""The floor: a bare receive loop on Pace's own stack (see :mod:`.app`)."""
