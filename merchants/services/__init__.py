"""Every write of the merchants app, one module per concept (import from the submodules)."""
